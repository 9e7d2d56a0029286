// Package pipelinetest holds the end-to-end test of the credit pipeline on
// `lend gen` data: synth.Generate → features.Run → join outcomes →
// training.Train → scoring the held-out rows through the model artifact. It
// has no non-test code; the package exists so the chain is checked in one
// place that owns none of the stages.
package pipelinetest
