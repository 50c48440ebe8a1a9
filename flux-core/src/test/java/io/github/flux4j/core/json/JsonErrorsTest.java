package io.github.flux4j.core.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class JsonErrorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String describe(String text) {
        return JsonErrors.describe(catchThrowableOfType(JsonProcessingException.class, () -> JSON.readTree(text)));
    }

    @Test
    void positionsWithoutJacksonsSourceText() {
        // Jackson: "... (start marker at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION`
        // disabled); line: 1, column: 1])" plus " at [Source: REDACTED ...; line: 2, column: 12]"
        assertThat(describe("{\"a\": 1,\n \"b\": [1, 2"))
                .isEqualTo("Unexpected end-of-input: expected close marker for Array (start marker at line 2, column 7)"
                        + " (line 2, column 12)");
        assertThat(describe("{\"a\" 1}"))
                .isEqualTo("Unexpected character ('1' (code 49)): was expecting a colon to"
                        + " separate field name and value (line 1, column 6)");
    }

    @Test
    void limitsWithoutTheJavaMethodTheyComeFrom() {
        // Jackson: "Document nesting depth (1001) exceeds the maximum allowed (1000, from
        // `StreamReadConstraints.getMaxNestingDepth()`)"
        assertThat(describe("[".repeat(1001) + "]".repeat(1001)))
                .isEqualTo("Document nesting depth (1001) exceeds the maximum allowed (1000)");
    }
}
