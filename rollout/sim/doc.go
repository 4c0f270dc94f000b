// Package sim is a simulated OpenAI-compatible inference server for the quick
// start, demos, tests and benchmarks. It speaks vLLM's wire format and
// generates math-like continuations that are right or wrong with known
// probabilities, so labels computed against it can be checked against ground
// truth (FirstError, SuccessProbability).
//
// # Problems
//
// A question is a chain of integer operations in a fixed English form:
//
//	Start with <n>. <op>[, <op>...][, then <op>]. What is the result?
//	<op> = add <b> | subtract <b> | multiply by <b>
//
// for example "Start with 16. Subtract 3, add 7, then multiply by 3. What is
// the result?" (one operation: "Start with 5. Add 2. What is the result?";
// two: "..., then ..."). Operands are at least 1 and factors at least 2, so
// every operation is injective: a wrong value stays wrong to the end. The
// gold answer is the chain's result (51 above).
//
// # Solutions
//
// A solution has one step per line, one line per operation, then a final
// line that is a step of its own:
//
//	16 - 3 = 13.
//	Next, 13 + 7 = 20.
//	We compute 20 * 3 = 60.
//	The answer is 60.
//
// A step line is an equation "<a> <op> <b> = <c>." at the end of the line,
// which may be phrased in several ways: MaxPhrasings phrasings, numbered from
// 0, write before it
//
//	0  nothing           16 - 3 = 13.
//	1  "Next, "          Next, 16 - 3 = 13.
//	2  "We compute "     We compute 16 - 3 = 13.
//	3  "So we get "      So we get 16 - 3 = 13.
//	4  "Then: "          Then: 16 - 3 = 13.
//	5  "This gives "     This gives 16 - 3 = 13.
//
// The parser is more general than this list: before the equation a line may
// carry a label ending in a colon (the text up to the last colon: "Step 2:",
// "Then:", "Step 2: Then:"), and then a lead-in of any words without digits,
// "=" or colons that ends in a blank ("Next, ", "Let me see. "). Phrasing
// never matters to the ground truth: a step's lead-in does not count, only
// its equation. The answer line has one form, "The answer is <n>.", label
// allowed.
//
// A step "<a> <op> <b> = <c>." is erroneous unless a is the previous result
// (the start value for the first step), op and b are the question's next
// operation, and c is a op b. "The answer is <n>." is erroneous unless all
// operations are done and n is the last result. Any other non-empty line,
// and anything after the answer line, is erroneous. FirstError returns the
// index of the first erroneous line among the non-empty lines, -1 if none.
//
// # Continuations
//
// The server finds the last question in the prompt (for chat: in the
// messages' contents) and the solution prefix after it: the lines from the
// first step or answer line after the question to the end of the prompt. A
// prompt template's own lines ("Answer:", role markers) before the first step
// are not part of the prefix, and a last line that is only a label
// ("Step 3:") is a cue rather than a step. For chat, the final message is
// continued only with continue_final_message; otherwise the model starts a
// new solution. The continuation is then:
//
//   - prefix with an error: carried on faithfully (correct steps) from the
//     prefix's current, wrong value, so it ends on a wrong answer. If an
//     erroneous line happened to write the correct value (say the right
//     number with a wrong operation), the first generated line slips, so an
//     erroneous prefix never reaches the gold answer: success probability 0.
//   - error-free prefix with r operations left: each generated step is
//     correct with probability q (Options.StepAccuracy, default 0.8),
//     independently; a wrong step adds a non-zero slip in ±1..5 to its
//     result, and the rest is faithful from there. The final answer line is
//     always faithful, so the success probability is q^r (1 when r = 0).
//   - each generated step line takes one of the first K phrasings
//     (Options.Phrasings, default 4; 1 gives a single form, the bare
//     equation), uniformly, drawn from a generator of its own, independent
//     of the correctness draws: phrasing changes the text, never which steps
//     are right, so SuccessProbability and FirstError do not depend on it.
//   - a prefix that already states its answer is continued by restating it:
//     success probability 1 when error-free, else 0.
//
// SuccessProbability(question, prefix, q) returns this ground truth.
// Continuations use the solution format and end with "The answer is <n>."
// with no newline after it. A sampled continuation's first step equals a
// given correct next step byte for byte with probability q/K only (it must
// be correct and take the same phrasing), so two texts that say the same
// thing are usually not byte-identical, as with a real model sampled at
// temperature 0.7-1. A prefix that ends in the middle of a line
// (no newline after its last step) is continued from "\n"; after a label
// colon the continuation starts with " " (so a cue "Step 3:" followed by
// phrasing 4 reads "Step 3: Then: 13 + 7 = 20.", one step). A prompt with no question in the
// grammar gets "The answer is 0.".
//
// # Sampling
//
// temperature 0 is greedy: no new mistakes (q = 1) and every step in
// phrasing 0, so every sample is the same and greedy decoding from a prefix
// of a solution written in phrasing 0 reproduces the solution byte for byte.
// Any other temperature (default 1) samples with q and K phrasings; top_p is
// validated and ignored. Sample i of a request with seed S is generated from
// two PCGs (correctness, phrasing) seeded by SHA-256 of (S+i, prompt text),
// so it equals sample 0 of the same request with seed S+i and n = 1, as in
// vLLM; without a seed samples are random. With fixed seeds a sample's
// equations (its right and wrong steps, its slips) do not depend on K: K
// only changes the lead-ins.
//
// # Tokens
//
// A token is a run of letters, a run of digits, a "<|name|>" marker or any
// other single character, with the whitespace before it attached; whitespace
// at the very end of a text is a token of its own. The tokenizer counts
// prompt_tokens, completion_tokens and max_tokens. Generation proceeds token
// by token: a stop string ends it with the text cut before the stop string
// (finish_reason "stop", stop_reason the string); reaching max_tokens ends it
// with "length"; otherwise it ends naturally with "stop", counting one
// end-of-sequence token. Chat prompts are tokenized as a ChatML rendering
// ("<|im_start|>role\ncontent<|im_end|>\n", the final message left open
// with continue_final_message, "<|im_start|>assistant\n" appended with
// add_generation_prompt, which defaults to the opposite of
// continue_final_message).
//
// # Prefix cache
//
// Like vLLM's automatic prefix caching, the prompt's tokens fall into blocks
// of BlockSize (default 16); a block's identity is a hash of all tokens up to
// its end, and an LRU holds CacheBlocks (default 8192) identities.
// usage.prompt_tokens_details.cached_tokens counts the tokens of the leading
// run of blocks found, within the first prompt_tokens-1 tokens (the last
// prompt token is always computed); then the prompt's full blocks are cached.
// A request with n samples counts its prompt once.
//
// # Wire format
//
// POST /v1/completions (prompt: a string or a list of strings) and POST
// /v1/chat/completions answer in vLLM's JSON shape: id "cmpl-..." or
// "chatcmpl-...", object "text_completion" or "chat.completion", created,
// model, choices[{index, text | message{role, content}, logprobs: null,
// finish_reason, stop_reason}], usage{prompt_tokens, total_tokens,
// completion_tokens, prompt_tokens_details{cached_tokens}}. GET /v1/models
// lists the model; GET /health answers 200. Errors use vLLM's body
// {"error": {"message", "type", "param", "code"}}: 400 for bad JSON (naming
// the problem), invalid parameters, n above MaxN, streaming, or a context
// longer than MaxModelLen; 404 "The model `x` does not exist." for a model
// other than Options.Model, and for unknown paths; 405 for a wrong method;
// 413 for a body over 32 MiB; 415 for a non-JSON content type. The bodies
// are the rollout/openai package's types (CompletionRequest, ChatRequest,
// CompletionResponse, ChatResponse, ModelList, ErrorBody), the ones the
// inference client speaks; the requests are read with the fields real
// servers accept in more than one shape widened (wire.go).
//
// # Faults and latency
//
// Each generation request that passes validation draws one fault from a
// generator seeded by FaultSeed, independent of the samples: 500 with
// probability Rate500, 429 with Retry-After (RetryAfter seconds) with
// Rate429, a 200 whose body is cut in half (invalid JSON) with
// RateTruncated, and a hang with RateHang: the request is held for HangFor
// (or until the client goes away or Close is called), then answered
// normally. FailFirst fails the first k requests with FailStatus, before any
// draw. A successful response is delayed by Latency plus TokenLatency per
// token of its longest sample plus PrefillTokenLatency per prompt token not
// found in the prefix cache.
//
// # Capacity
//
// MaxNumSeqs (0: unbounded) is a GPU's bound on sequences generated at
// once, vLLM's max_num_seqs: a request is n sequences (n times its
// prompts, at most MaxNumSeqs), which, like vLLM's child requests of a
// parallel-sampling request, each wait first come, first served, for a
// slot and hold it for the request's modelled duration from their own
// start; the request answers when its last sequence is done. A sequence
// sleeps to a deadline rather than token by token, so timer lateness on a
// loaded machine does not accumulate. Stats.SeqSeconds adds up the
// sequences' modelled durations; Fleet runs several
// servers and reports utilization, SeqSeconds / (slots x wall time). Because faults never touch the samples, a
// faulty run with fixed seeds yields, after client retries, the same samples
// as a clean run. Stats reports requests, responses by status, tokens and
// injected faults.
//
// # Datasets
//
// GenerateDataset writes problems in the input format of `shepherd label`
// with solutions that are correct or carry one injected error, whose index
// is the ground truth FirstError returns. Each step line takes one of
// DatasetOptions.Phrasings phrasings (default 4), drawn from a generator of
// its own, so different solutions of one problem differ textually while a
// seed's questions and injected errors are the same whatever the number of
// phrasings.
package sim
