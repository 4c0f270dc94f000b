// Package grade reads the final answer of a response (ExtractAnswer) and
// decides whether it equals a gold answer (Grader.Equivalent, with a
// bounded memo): numbers, fractions, LaTeX, units, intervals, sets and
// tuples compared by value, never by a model. Version names the rules and
// is written into every label record, so a change of rules bumps it.
//
// It builds on the core's reading of boxes and braces (labeler.LastBoxed,
// labeler.MatchBrace, labeler.CleanAnswer), which the core also uses for
// the gold answer of a problem.
package grade
