// Package dataset converts between shepherd's label records and the data
// sets of process-reward training: the output formats a PRM trainer reads
// (Export, and NewParquetWriter for Parquet files) and the importers of
// public data sets into labeling input (Import). A format's rules live here
// only; the command line maps option errors to its flags.
//
// # Output formats
//
// Each Format is a pure conversion of a labeler.Record into one row:
//
//   - FormatRecord: the canonical Record itself, unchanged and unchecked.
//   - FormatTRL: TRL's stepwise-supervision columns {"prompt",
//     "completions", "labels"} (labels are booleans), plus "soft_labels"
//     with ExportOptions.Soft.
//   - FormatMathShepherd: the layout of the Math-Shepherd data set,
//     {"input", "label", "task"}. input is the question (trimmed), one
//     space, then the steps one per line, step k prefixed "Step k: " unless
//     it already opens with a step marker ("Step 3:", "## Step 3:", …), each
//     followed by " ки"; label is the same text with every " ки" replaced by
//     " +" or " -". task is ExportOptions.Task (TaskOf gives it from
//     the input format where that says: GSM8K, MATH), left out when empty. The
//     "Step k: " prefixes are what labeler.SplitMathShepherd finds the step list
//     by, as in the data set. Steps are trimmed and otherwise
//     written as they are (a step holding several lines keeps them);
//     a record whose text would not read back the same through
//     labeler.SplitMathShepherd and labeler.MathShepherdLabels (a step holding the tag, or a
//     line of a step ending in a lone "+" or "-") is refused rather than
//     written ambiguously.
//   - FormatOpenRLHF: OpenRLHF's process-reward dataset, {"input",
//     "value"}: input is the Math-Shepherd layout with the placeholder
//     ExportOptions.StepTag (default "ки") after every step, value the list
//     of reward tokens (ExportOptions.Good / Bad, default "+" / "-") or,
//     with Soft, of numbers. Train with `openrlhf.cli.train_prm --input_key
//     input --label_key value --placeholder_token ки --reward_tokens + -`
//     (the same tag and tokens as given here; the trainer finds steps by the
//     placeholder's token id, so it must be one token of the model's
//     tokenizer as written, after a space).
//   - FormatChat: one conversation per solution, {"messages": [{"role":
//     "user", "content": question + "\n" + step 1}, {"role": "assistant",
//     "content": "+"}, {"role": "user", "content": step 2}, …]}: a user turn
//     per step, the first one opened by the question (trimmed), and an
//     assistant turn holding the step's label token (Good / Bad).
//
// Soft labels (ExportOptions.Soft; trl and openrlhf only, since the other
// layouts carry label tokens): the share of rollouts that reached the gold
// answer where it was measured; where a strategy inferred the label instead
// (null in the record) the hard label stands in as 1.0 or 0.0, so every
// exported soft label is a number. JSON writes them with a decimal point
// always ("1.0"), so readers that infer types block by block see floats.
//
// A record with failed steps has no label for them; exporting it in a
// trainer format gives an error wrapping ErrFailedSteps so the caller can
// skip it.
//
// # Input formats
//
// Each InputFormat converts one row of a public data set (its JSON bytes)
// into a labeler.Problem with one solution, plus the step labels the data
// set itself gives that solution, if any.
//
// The gold answer is the row's own when it has one. Otherwise it comes from
// ImportOptions.Gold (answers looked up by the row's own id, then by
// question text; see GoldIndex), and failing that, where the data set says the solution's
// final answer is correct, it is that answer as grade.ExtractAnswer reads it. A
// row left without a gold answer, or without a solution, gives an error
// wrapping ErrUnusable.
//
//   - InputJSONL: shepherd's own labeling input, one Problem per row.
//   - InputGSM8K: {"question", "answer"}. The answer is GSM8K's reference
//     solution: its lines before the final "#### x" become the steps, with
//     the calculator annotations ("<<48/2=24>>") removed (they are
//     generation-time tool calls, not text a model writes), and the
//     "#### x" line is kept at the end of the last step so the solution
//     still states its final answer. Gold: x. Labels: all correct (a
//     reference solution).
//   - InputMATH (also "math500"): {"problem", "solution", "answer"?,
//     "unique_id"?}. The reference solution is imported as text, to be
//     split by the labeler's --split. Gold: "answer" when present (MATH500),
//     else the content of the solution's last \boxed{}. No labels.
//   - InputProcessBench: {"id", "problem", "steps", "final_answer_correct",
//     "label"}. The steps as given. ProcessBench carries no gold answer:
//     it comes from ImportOptions.Gold (ProcessBench's problems are the
//     GSM8K, MATH, OlympiadBench and Omni-MATH test questions, so those
//     files can serve as the index) or, when final_answer_correct is true,
//     is the solution's own final answer; a row with an incorrect final
//     answer and no indexed gold is unusable. Labels: steps before "label"
//     (the first wrong step) correct, it and every later step incorrect;
//     all correct for -1.
//   - InputPRM800K: the raw human-label records {"question": {"problem",
//     "ground_truth_answer", "pre_generated_steps"?}, "label": {"steps",
//     "finish_reason"}}. The solution is the path the labeller took: at each
//     step the chosen completion, else the human-written completion, and
//     for a record that finished "found_error" the step rated -1 where the
//     path stops; a step with neither ends the path (the labeller gave up).
//     A row without "label" takes question.pre_generated_steps. Gold:
//     ground_truth_answer (null in screening questions). Labels: the
//     ratings of the path's steps, +1 and 0 (neutral) correct, -1
//     incorrect, a human completion correct.
//   - InputMathShepherd: {"input", "label"?, "task"?}: the question and
//     steps are read back with labeler.SplitMathShepherd (the "Step k:" prefixes
//     stay in the step text) and the labels with labeler.MathShepherdLabels. The
//     data carries no gold answer: it is the last step's extracted answer
//     when the last label is "+" (Math-Shepherd's last label is the graded
//     outcome of the whole solution), else it must come from
//     ImportOptions.Gold.
//
// Import takes one row. A data set file is JSONL or one JSON array
// (ReadRows reads either), and Problems yields a file's rows as labeling
// input, each handed over as a labeler.Problem (no JSON in between).
package dataset
