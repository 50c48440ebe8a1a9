package io.github.flux4j.pipeline.hub;

import java.util.List;
import java.util.regex.Pattern;

/**
 * File name patterns as {@code huggingface_hub}'s {@code allow_patterns} read them: Unix shell
 * wildcards matched against the whole path in the repository, case-sensitively, where {@code *}
 * also crosses {@code /}; a pattern ending in {@code /} means everything under that folder.
 */
final class Glob {
    private final String pattern;
    private final Pattern regex;

    private Glob(String pattern) {
        this.pattern = pattern;
        this.regex = Pattern.compile(toRegex(pattern.endsWith("/") ? pattern + "*" : pattern), Pattern.DOTALL);
    }

    static Glob of(String pattern) {
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("empty file pattern");
        }
        return new Glob(pattern);
    }

    static boolean anyMatches(List<Glob> globs, String path) {
        for (Glob g : globs) {
            if (g.matches(path)) {
                return true;
            }
        }
        return false;
    }

    boolean matches(String path) {
        return regex.matcher(path).matches();
    }

    @Override
    public String toString() {
        return pattern;
    }

    private static String toRegex(String glob) {
        StringBuilder re = new StringBuilder();
        int i = 0;
        int n = glob.length();
        while (i < n) {
            char c = glob.charAt(i++);
            if (c == '*') {
                re.append(".*");
            } else if (c == '?') {
                re.append('.');
            } else if (c == '[') {
                int j = i;
                if (j < n && glob.charAt(j) == '!') {
                    j++;
                }
                if (j < n && glob.charAt(j) == ']') {
                    j++;
                }
                while (j < n && glob.charAt(j) != ']') {
                    j++;
                }
                if (j >= n) {
                    re.append("\\["); // no closing bracket: a literal '['
                } else {
                    String set = glob.substring(i, j);
                    i = j + 1;
                    StringBuilder cls = new StringBuilder("[");
                    int k = 0;
                    if (set.startsWith("!")) {
                        cls.append('^');
                        k = 1;
                    }
                    for (; k < set.length(); k++) {
                        char s = set.charAt(k);
                        // '-' keeps its range meaning; everything else is literal inside the class.
                        if ("\\[]^&".indexOf(s) >= 0) {
                            cls.append('\\');
                        }
                        cls.append(s);
                    }
                    re.append(cls).append(']');
                }
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return re.toString();
    }
}
