package io.github.flux4j.core.json;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.regex.Pattern;

/**
 * Jackson's parse errors as one readable phrase for flux4j's exception messages. Jackson's own
 * message ends with {@code at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION`
 * disabled); line: 1, column: 9]}, and even its "original message" may embed such a location
 * ("expected close marker for Object (start marker at [Source: REDACTED ...])"), and a limit
 * names the Java method it comes from ("exceeds the maximum allowed (1000, from
 * `StreamReadConstraints.getMaxNestingDepth()`)"): noise for a user, who needs the file (the
 * caller names it) and the position.
 */
public final class JsonErrors {
    /** Jackson's location text, e.g. {@code [Source: REDACTED (...); line: 1, column: 9]}. */
    private static final Pattern LOCATION = Pattern.compile("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)]");

    /** Where a limit comes from, e.g. {@code , from `StreamReadConstraints.getMaxNestingDepth()`}. */
    private static final Pattern LIMIT_SOURCE = Pattern.compile(", from `[\\w.]+\\(\\)`");

    private JsonErrors() {}

    /**
     * What went wrong and where: {@code "Unexpected end-of-input in field name (line 3, column 8)"}.
     */
    public static String describe(JsonProcessingException e) {
        String message = e.getOriginalMessage();
        if (message == null || message.isBlank()) {
            message = e.getClass().getSimpleName();
        }
        message = LOCATION.matcher(message.strip()).replaceAll("line $1, column $2");
        message = LIMIT_SOURCE.matcher(message).replaceAll("");
        JsonLocation at = e.getLocation();
        if (at != null && at.getLineNr() > 0) {
            message += " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
        }
        return message;
    }
}
