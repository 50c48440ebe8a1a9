/** Fuzz tests of the pipeline's file loaders: tokenizers, SentencePiece, model_index.json, scheduler config. */
package io.github.flux4j.pipeline.fuzz;
