package io.github.flux4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** Reading requests from rows of the types Parquet, JSON and CSV give. */
class ImageRequestTest {
    private static Row row(StructType schema, Object... values) {
        return new GenericRowWithSchema(values, schema);
    }

    private static final StructType TEXT = new StructType()
            .add("id", DataTypes.StringType)
            .add("prompt", DataTypes.StringType)
            .add("seed", DataTypes.StringType)
            .add("width", DataTypes.StringType)
            .add("guidance", DataTypes.StringType)
            .add("images_per_prompt", DataTypes.StringType);

    @Test
    void readsTypedAndTextValues() {
        StructType typed = new StructType()
                .add("id", DataTypes.LongType)
                .add("prompt", DataTypes.StringType)
                .add("seed", DataTypes.IntegerType)
                .add("width", DataTypes.DoubleType)
                .add("height", DataTypes.createDecimalType(10, 0))
                .add("steps", DataTypes.ShortType)
                .add("guidance", DataTypes.FloatType);
        ImageRequest r =
                ImageRequest.fromRow(row(typed, 12L, "a cat", 7, 512.0, new BigDecimal("768"), (short) 20, 2.5f));
        assertThat(r).isEqualTo(new ImageRequest("12", "a cat", 7, 512, 768, 20, 2.5, 1));

        ImageRequest t = ImageRequest.fromRow(row(TEXT, "x", "p", " -3 ", "64", "4", "2"));
        assertThat(t).isEqualTo(new ImageRequest("x", "p", -3, 64, null, null, 4.0, 2));
        ImageRequest blank = ImageRequest.fromRow(row(TEXT, "x", "p", "", "", null, null));
        assertThat(blank.seed()).isEqualTo(ImageRequest.defaultSeed("x"));
        assertThat(blank.width()).isNull();
    }

    @Test
    void theDefaultSeedIsTheIdsHash() {
        // printf 'flux4j-seed:cat' | sha256sum -> 5ba1aa041c5bbfe9...
        assertThat(ImageRequest.defaultSeed("cat")).isEqualTo(0x5ba1aa041c5bbfe9L);
        assertThat(ImageRequest.defaultSeed("cat")).isNotEqualTo(ImageRequest.defaultSeed("dog"));
    }

    @Test
    void namesTheBadColumn() {
        assertThatThrownBy(() -> ImageRequest.fromRow(row(TEXT, "x", "p", "1.5", null, null, null)))
                .hasMessage("seed: expected an integer, got '1.5'");
        StructType typed = new StructType()
                .add("id", DataTypes.StringType)
                .add("prompt", DataTypes.StringType)
                .add("width", DataTypes.DoubleType);
        assertThatThrownBy(() -> ImageRequest.fromRow(row(typed, "x", "p", 32.5)))
                .hasMessageStartingWith("width: expected an integer, got 32.5");
        StructType wide = new StructType()
                .add("id", DataTypes.StringType)
                .add("prompt", DataTypes.StringType)
                .add("width", DataTypes.LongType);
        assertThatThrownBy(() -> ImageRequest.fromRow(row(wide, "x", "p", 1L << 40)))
                .hasMessage("width: 1099511627776 is out of range");
        assertThatThrownBy(() -> ImageRequest.fromRow(row(wide, "x", "p", 4097L)))
                .hasMessage("width must be in 16..4096 pixels, got 4097");
        assertThatThrownBy(() -> ImageRequest.fromRow(row(TEXT, "x", "p", null, null, "NaN", null)))
                .hasMessage("guidanceScale must be a finite number, got NaN");
        assertThatThrownBy(() -> ImageRequest.fromRow(row(TEXT, "x", "p", null, null, null, "0")))
                .hasMessage("numImagesPerPrompt must be at least 1, got 0");
        assertThatThrownBy(() -> ImageRequest.fromRow(row(TEXT, "", "p", null, null, null, null)))
                .hasMessageStartingWith("id: missing");
        StructType bool = new StructType().add("id", DataTypes.StringType).add("prompt", DataTypes.BooleanType);
        assertThatThrownBy(() -> ImageRequest.fromRow(row(bool, "x", true)))
                .hasMessage("prompt: expected text, got a Boolean");
    }
}
