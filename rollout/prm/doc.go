// Package prm scores candidate solutions step by step, with a process
// reward model (PRM) served by vLLM, or with Monte-Carlo rollouts, and
// picks the best of them (best-of-N, weighted best-of-N, majority vote).
//
// Each layout is scored through the vLLM endpoint that computes its
// scores correctly (Layout.API):
//
//   - math-shepherd, and custom with token ids: a causal LM whose logits
//     for a good and a bad token at each step tag are the step's score,
//     through prompt logprobs on /v1/completions of a stock
//     `vllm serve <model>`;
//   - qwen-prm, and custom with a positive index: a reward model whose
//     head gives class probabilities per step, through /pooling of
//     `vllm serve <model> --runner pooling`.
//
// Serving a causal LM PRM with the pooling runner gives meaningless
// numbers: vLLM's reward pooling drops the LM head, and STEP pooling's
// returned_token_ids then select two hidden-state dimensions and softmax
// them (vLLM issue 16545); every value is a probability and none means
// anything. CheckAPI refuses that combination.
//
// # Prompt logprobs
//
// For a layout with token ids the client first tokenizes the laid-out
// input with the server's own tokenizer, POST {root}/tokenize:
//
//	{"model": "<served name>", "prompt": "<laid-out solution>", "add_special_tokens": true}
//	→ {"count": 212, "max_model_len": 4096, "tokens": [1, 1824, …], "token_strs": null}
//
// and finds the step tag's token (TagTokenID) at as many positions as
// there are steps; another count is a permanent error (the tag merged
// with the text around it). A step's text may contain the tag's
// characters and the label tokens' characters: positions come from token
// ids, never from searching the text. It then posts the token ids with
// the good token appended, so the last tag has a following position, to
// POST {root}/v1/completions:
//
//	{"model": "…", "prompt": [1, 1824, …, 648], "max_tokens": 1, "temperature": 0, "prompt_logprobs": 5}
//
// vLLM answers choices[0].prompt_logprobs, one entry per prompt token:
// the first null, entry i a map from token id (a JSON object key) to
// {"logprob", "rank", "decoded_token"} for the ClientOptions.PromptLogprobs
// most likely tokens after tokens 0..i-1 plus token i itself. The entry
// after a tag is the distribution at the tag; logits at a tag do not
// depend on what follows. Step k's score is
//
//	exp(lp_good) / (exp(lp_good) + exp(lp_bad))
//
// the softmax over the two tokens' logits, as Math-Shepherd's model card
// computes it. A label outside the top tokens at a tag is asked for on its
// own: the prompt cut after the tag plus that token, with prompt_logprobs
// 0, whose last entry is the token's logprob (vLLM always returns the
// prompt's own token).
//
// # The pooling API
//
// A reward model served by vLLM's pooling runner answers POST
// {root}/pooling (at the server's root, not under /v1; Client accepts a
// base URL with or without a trailing /v1) with body
//
//	{"model": "<served name>", "input": "<laid-out solution>"}
//
// and responds
//
//	{"id": "pool-…", "object": "list", "created": 1730000000, "model": "…",
//	 "data": [{"index": 0, "object": "pooling", "data": [[0.12, 0.88], [0.31, 0.69]]}],
//	 "usage": {"prompt_tokens": 412, "total_tokens": 412, "completion_tokens": 0}}
//
// where data[i].data holds one row of class probabilities per step tag in
// input i, so a solution with N steps gets N rows. A response with another
// number of rows is an error that says how many were expected and got: the
// model is not served with step pooling for the layout's tag (it returns
// one row per token, or one vector per input), or the layout does not
// match the model. Values outside [0, 1] (logits rather than
// probabilities) are an error too.
//
// Serving the two supported models with current vLLM:
//
//	# Math-Shepherd's PRM: a causal LM, served as one (the generate runner,
//	# the default); scored at "ки" (token 12902) by "+" (648) against "-" (387).
//	vllm serve peiyi9979/math-shepherd-mistral-7b-prm
//
//	# Qwen2.5-Math-PRM: vLLM knows the architecture (Qwen2ForProcessRewardModel)
//	# and pools at <extra_0> by itself.
//	vllm serve Qwen/Qwen2.5-Math-PRM-7B --runner pooling
//
// (Older vLLM releases take --task reward instead of --runner pooling;
// --task is gone from current releases.)
//
// # Layouts
//
// A Layout renders the question and the steps (labeler.Step texts, trimmed)
// the way the reward model was trained to read them. Neither the question
// nor a step may contain the layout's step tag: the model would score it as
// a step.
//
// math-shepherd (peiyi9979/math-shepherd-mistral-7b-prm, the model card's
// input): the question, a space, then the steps separated by "\n", each
// followed by " ки":
//
//	<question> <step 1> ки\n<step 2> ки\n…\n<step N> ки
//
// A step's score is the softmax over the logits of "+" (token 648, good)
// and "-" (387, bad) at the tag (token 12902): the model card's
// step_tag_id and candidate_tokens. Math-Shepherd's own data
// writes "Step k: " before each step; candidates split from that data
// (labeler.SplitTag, or auto-detected by the "ки" tags) keep those
// markers, since they are part of the step text.
//
// qwen-prm (Qwen/Qwen2.5-Math-PRM-7B and -72B): the model card's chat
// template with the model card's system prompt, the steps joined and ended
// by "<extra_0>", as vLLM's own reward-model test renders it:
//
//	<|im_start|>system\nPlease reason step by step, and put your final answer within \boxed{}.<|im_end|>\n<|im_start|>user\n<question><|im_end|>\n<|im_start|>assistant\n<step 1><extra_0><step 2><extra_0>…<step N><extra_0><|im_end|><|endoftext|>
//
// The positive class is index 1: the model's two-class head is [bad, good]
// and the model card reads the probability of class 1 at each "<extra_0>".
//
// custom: a configurable step tag (at most 64 bytes), and either a
// positive class index (a reward head through /pooling) or the tag's,
// the good and the bad token ids (a causal LM through prompt logprobs,
// such as RLHFlow's "+"/"-" PRMs); the question, then each step on a new
// line followed directly by the tag:
//
//	<question>\n<step 1><tag>\n<step 2><tag>…\n<step N><tag>
//
// (put a space in the tag, " <tag>", if the model wants one before it).
//
// # Retries
//
// Client retries 429 and 503 (honouring Retry-After, capped at
// rollout.MaxRetryAfter), other 5xx, 408, timeouts, refused or reset
// connections, and truncated or invalid JSON, with the retry policy the
// inference client uses (internal/httpretry): capped exponential backoff
// with full jitter. Other 4xx are permanent
// and carry the server's message, as do a row count that does not match
// the steps and rows that are not probabilities. Errors are *APIError
// with rollout.APIError's semantics (IsPermanent). An API key is sent as
// "Authorization: Bearer <key>".
//
// # Scoring
//
// Scorer.Score takes a question, an optional gold answer and up to
// MaxCandidates (default 256) candidates (a text, {"id", "text"} or
// {"id", "steps"}), splits them (labeler.Split, bounded by the split
// options' MaxSteps), scores each distinct list of step texts once, and
// aggregates every candidate's step scores (labeler.Aggregate: min by
// default, prod, last, mean). From the scores and the candidates' extracted
// answers it picks (labeler.Rerank):
//
//   - best: the index of the highest score, the lowest index on a tie;
//   - weighted_best_answer: the answer whose candidates, grouped by the
//     grader's equivalence ("1/2" with "0.5"), have the largest summed
//     score;
//   - majority_answer: the answer most candidates give (self-consistency),
//     ties to the answer first given.
//
// Candidates without an extracted answer are left out of both votes. With
// a gold answer every candidate's answer is graded and best_correct says
// whether the best candidate is right.
//
// In PRM mode the distinct step lists are scored concurrently, at most
// Scorer.Concurrency requests in flight across all concurrent Score calls;
// a candidate the model cannot score fails the call with an error naming
// it.
//
// In MC mode (Monte-Carlo) a step's score is its soft label: the share
// of N rollouts from the candidate's step prefix that reach the reference
// answer, measured by a labeling job (rollout.RunJob with the exhaustive
// strategy) on a MemQueue with one rollout.Worker over Scorer.Generator,
// or with Scorer.NewQueue on a queue a worker fleet consumes (shepherd
// serve's Redis queue): the same tasks and seeds either way, so both give
// the same scores. The last step's score is the candidate's own graded
// outcome, 1 or 0, as in `shepherd label`; a step whose rollouts failed
// scores NaN (null in JSON) and aggregation skips it. The reference answer
// is the gold answer when there is one. Without one it is the majority
// answer of MCOptions.ReferenceN rollouts (default max(N, 32)) sampled
// from the question alone (the empty prefix, one task on the same queue), grouped by the grader's
// equivalence: the policy's own self-consistency answer. On a question the
// policy mostly gets wrong that plurality can be a wrong answer, and the
// step scores then measure agreement with it. Taking the majority of the candidates instead would let the
// candidates being judged vote on their own reference; rollouts from the
// question are an independent sample of the same policy the step
// rollouts use. The result carries the reference as reference_answer.
package prm
