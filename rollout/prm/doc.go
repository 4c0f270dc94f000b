// Package prm scores candidate solutions step by step, with a process
// reward model (PRM) served by vLLM's pooling API or with Monte-Carlo
// rollouts, and picks the best of them (best-of-N, weighted best-of-N,
// majority vote).
//
// # The pooling API
//
// A reward model served by vLLM answers POST {root}/pooling (at the
// server's root, not under /v1; Client accepts a base URL with or without
// a trailing /v1) with body
//
//	{"model": "<served name>", "input": "<laid-out solution>"}
//
// and responds
//
//	{"id": "pool-…", "object": "list", "created": 1730000000, "model": "…",
//	 "data": [{"index": 0, "object": "pooling", "data": [[0.12, 0.88], [0.31, 0.69]]}],
//	 "usage": {"prompt_tokens": 412, "total_tokens": 412, "completion_tokens": 0}}
//
// where, for a model served with step pooling, data[i].data holds one row
// of class probabilities per step tag in input i (a softmax over the
// model's classes at the tag's position), so a solution with N steps gets N
// rows. A response with another number of rows is an error that says how
// many were expected and got: the model is not served with step pooling
// for the layout's tag (it returns one row per token, or one vector per
// input), or the layout does not match the model. Values outside [0, 1]
// (logits rather than probabilities) are an error too.
//
// Serving the two supported models:
//
//	# Qwen2.5-Math-PRM: vLLM knows the architecture (Qwen2ForProcessRewardModel)
//	# and pools at <extra_0> by itself.
//	vllm serve Qwen/Qwen2.5-Math-PRM-7B --runner pooling     # older vLLM: --task reward
//
//	# Math-Shepherd's PRM is a causal LM scored at the "ки" token (id 12902)
//	# by the softmax over the logits of "+" (id 648) and "-" (id 387), in
//	# that order: vLLM's STEP pooler.
//	vllm serve peiyi9979/math-shepherd-mistral-7b-prm --runner pooling \
//	  --override-pooler-config '{"pooling_type": "STEP", "step_tag_id": 12902, "returned_token_ids": [648, 387]}'
//
// (Releases differ in the flag names: older ones take --task reward instead
// of --runner pooling, newer ones --pooler-config instead of
// --override-pooler-config.)
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
// The positive class is index 0: the model is served with
// returned_token_ids [648, 387], the token ids of "+" and "-" (the model
// card's candidate_tokens, "+" first), so each row is [P(+), P(-)] and
// P(+) is the probability that the step is good. Math-Shepherd's own data
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
// custom: a configurable step tag (at most 64 bytes) and positive index;
// the question, then each step on a new line followed directly by the tag:
//
//	<question>\n<step 1><tag>\n<step 2><tag>…\n<step N><tag>
//
// (put a space in the tag, " <tag>", if the model wants one before it).
//
// # Retries
//
// Client retries 429 and 503 (honouring Retry-After, capped at
// rollout.MaxRetryAfter), other 5xx, 408, timeouts, refused or reset
// connections, and truncated or invalid JSON, with rollout.Backoff's
// capped exponential backoff with full jitter. Other 4xx are permanent
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
// answer, measured by an in-process labeling job (rollout.RunJob with the
// exhaustive strategy on a MemQueue and one rollout.Worker over
// Scorer.Generator). The last step's score is the candidate's own graded
// outcome, 1 or 0, as in `shepherd label`; a step whose rollouts failed
// scores NaN (null in JSON) and aggregation skips it. The reference answer
// is the gold answer when there is one. Without one it is the majority
// answer of MCOptions.ReferenceN rollouts (default max(N, 32)) sampled
// from the question alone (the empty prefix), grouped by the grader's
// equivalence: the policy's own self-consistency answer. On a question the
// policy mostly gets wrong that plurality can be a wrong answer, and the
// step scores then measure agreement with it. Taking the majority of the candidates instead would let the
// candidates being judged vote on their own reference; rollouts from the
// question are an independent sample of the same policy the step
// rollouts use. The result carries the reference as reference_answer.
package prm
