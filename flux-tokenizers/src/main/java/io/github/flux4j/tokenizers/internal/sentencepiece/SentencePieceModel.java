package io.github.flux4j.tokenizers.internal.sentencepiece;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The parts of a SentencePiece {@code ModelProto} ({@code spiece.model}) that tokenization needs:
 * the pieces with their scores and types, the trainer's model type and special ids, and the
 * normalizer spec. Read with a small hand-written protobuf reader; unknown fields are skipped.
 *
 * @param pieces the vocabulary, by id
 * @param modelType {@code TrainerSpec.model_type}: 1 Unigram, 2 BPE, 3 word, 4 char
 * @param unkId {@code TrainerSpec.unk_id}
 * @param bosId {@code TrainerSpec.bos_id} (-1: none)
 * @param eosId {@code TrainerSpec.eos_id} (-1: none)
 * @param padId {@code TrainerSpec.pad_id} (-1: none)
 * @param byteFallback {@code TrainerSpec.byte_fallback}
 * @param treatWhitespaceAsSuffix {@code TrainerSpec.treat_whitespace_as_suffix}
 * @param normalizer {@code normalizer_spec}
 */
public record SentencePieceModel(
        List<Piece> pieces,
        int modelType,
        int unkId,
        int bosId,
        int eosId,
        int padId,
        boolean byteFallback,
        boolean treatWhitespaceAsSuffix,
        NormalizerSpec normalizer) {

    /** {@code TrainerSpec.model_type} of Unigram models. */
    public static final int UNIGRAM = 1;

    /** A piece's kind ({@code SentencePiece.Type}). */
    public enum Type {
        /** An ordinary piece. */
        NORMAL,
        /** The unknown piece. */
        UNKNOWN,
        /** A control symbol such as {@code </s>}: never matched in text. */
        CONTROL,
        /** A user-defined symbol: always one piece when it occurs in text. */
        USER_DEFINED,
        /** A piece left out of segmentation. */
        UNUSED,
        /** A byte-fallback piece {@code <0xAB>}. */
        BYTE;

        static Type of(long wire, int offset) {
            return switch ((int) wire) {
                case 1 -> NORMAL;
                case 2 -> UNKNOWN;
                case 3 -> CONTROL;
                case 4 -> USER_DEFINED;
                case 5 -> UNUSED;
                case 6 -> BYTE;
                default -> throw ProtoReader.error(offset, "unknown piece type " + wire);
            };
        }
    }

    /** One vocabulary entry. */
    public record Piece(String piece, float score, Type type) {}

    /**
     * {@code NormalizerSpec}.
     *
     * @param name the rule set's name, e.g. {@code nmt_nfkc}
     * @param precompiledCharsmap the compiled rules (empty: identity)
     * @param addDummyPrefix whether a whitespace is put in front of the text
     * @param removeExtraWhitespaces whether leading, trailing and repeated whitespace is dropped
     * @param escapeWhitespaces whether spaces become U+2581
     */
    public record NormalizerSpec(
            String name,
            byte[] precompiledCharsmap,
            boolean addDummyPrefix,
            boolean removeExtraWhitespaces,
            boolean escapeWhitespaces) {}

    /** Copies the piece list. */
    public SentencePieceModel {
        pieces = Collections.unmodifiableList(new ArrayList<>(pieces));
    }

    /**
     * Parses a serialized {@code ModelProto}.
     *
     * @throws IllegalArgumentException naming the byte offset and what is wrong
     */
    public static SentencePieceModel parse(byte[] data) {
        if (data.length == 0) {
            throw new IllegalArgumentException("empty file, not a SentencePiece model");
        }
        List<Piece> pieces = new ArrayList<>();
        int[] trainer = null;
        int[] normalizer = null;
        ProtoReader r = new ProtoReader(data, 0, data.length);
        while (r.hasMore()) {
            int at = r.position();
            int tag = r.tag();
            int field = tag >>> 3;
            int wire = tag & 7;
            if (field >= 1 && field <= 5 && wire != ProtoReader.LENGTH_DELIMITED) {
                throw ProtoReader.error(
                        at, "ModelProto field " + field + " has wire type " + wire + ", expected a message");
            }
            switch (field) {
                case 1 -> pieces.add(parsePiece(data, r.lengthDelimited(), pieces.size()));
                case 2 -> trainer = r.lengthDelimited();
                case 3 -> normalizer = r.lengthDelimited();
                default -> r.skip(wire);
            }
        }
        if (pieces.isEmpty()) {
            throw new IllegalArgumentException("no pieces: not a SentencePiece model");
        }
        // TrainerSpec defaults.
        long modelType = 1;
        long unkId = 0;
        long bosId = 1;
        long eosId = 2;
        long padId = -1;
        boolean byteFallback = false;
        boolean suffix = false;
        if (trainer != null) {
            ProtoReader t = new ProtoReader(data, trainer[0], trainer[1]);
            while (t.hasMore()) {
                int tag = t.tag();
                int field = tag >>> 3;
                int wire = tag & 7;
                if (wire != ProtoReader.VARINT) {
                    t.skip(wire);
                    continue;
                }
                long v = t.varint();
                switch (field) {
                    case 3 -> modelType = v;
                    case 24 -> suffix = v != 0;
                    case 35 -> byteFallback = v != 0;
                    case 40 -> unkId = (int) v;
                    case 41 -> bosId = (int) v;
                    case 42 -> eosId = (int) v;
                    case 43 -> padId = (int) v;
                    default -> {}
                }
            }
        }
        String name = "";
        byte[] charsmap = new byte[0];
        boolean dummy = true;
        boolean removeExtra = true;
        boolean escape = true;
        if (normalizer != null) {
            ProtoReader n = new ProtoReader(data, normalizer[0], normalizer[1]);
            while (n.hasMore()) {
                int tag = n.tag();
                int field = tag >>> 3;
                int wire = tag & 7;
                if (field == 1 && wire == ProtoReader.LENGTH_DELIMITED) {
                    name = n.string(n.lengthDelimited());
                } else if (field == 2 && wire == ProtoReader.LENGTH_DELIMITED) {
                    charsmap = n.bytes(n.lengthDelimited());
                } else if (field >= 3 && field <= 5 && wire == ProtoReader.VARINT) {
                    boolean v = n.varint() != 0;
                    if (field == 3) {
                        dummy = v;
                    } else if (field == 4) {
                        removeExtra = v;
                    } else {
                        escape = v;
                    }
                } else {
                    n.skip(wire);
                }
            }
        }
        return new SentencePieceModel(
                pieces,
                (int) modelType,
                (int) unkId,
                (int) bosId,
                (int) eosId,
                (int) padId,
                byteFallback,
                suffix,
                new NormalizerSpec(name, charsmap, dummy, removeExtra, escape));
    }

    private static Piece parsePiece(byte[] data, int[] span, int index) {
        ProtoReader r = new ProtoReader(data, span[0], span[1]);
        String piece = null;
        float score = 0f;
        Type type = Type.NORMAL;
        while (r.hasMore()) {
            int at = r.position();
            int tag = r.tag();
            int field = tag >>> 3;
            int wire = tag & 7;
            if (field == 1 && wire == ProtoReader.LENGTH_DELIMITED) {
                piece = r.string(r.lengthDelimited());
            } else if (field == 2 && wire == ProtoReader.FIXED32) {
                score = Float.intBitsToFloat(r.fixed32());
            } else if (field == 3 && wire == ProtoReader.VARINT) {
                type = Type.of(r.varint(), at);
            } else {
                r.skip(wire);
            }
        }
        if (piece == null || piece.isEmpty()) {
            throw ProtoReader.error(span[0], "piece " + index + " has no text");
        }
        return new Piece(piece, score, type);
    }
}
