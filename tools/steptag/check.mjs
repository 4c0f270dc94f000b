// Which tokenizers see the Math-Shepherd step tag " ки" (after a step's
// text, before the newline) as one token: OpenRLHF's train_prm and
// Math-Shepherd's PRM find the steps by that token's id, so a tokenizer that
// splits it cannot train on the math-shepherd or openrlhf formats with the
// default --placeholder-token.
//
// The tokenizers are the npm packages that ship their vocabularies (pinned
// in package.json): Mistral 7B, LLaMA 2 (SentencePiece), LLaMA 3, OpenAI's
// cl100k_base and o200k_base. Qwen2.5's tokenizer ships in no package here,
// so it is not checked. Prints one line per tokenizer; exits 1 when one
// does not tokenize as stated here.
import mistral from 'mistral-tokenizer-js';
import llama from 'llama-tokenizer-js';
import llama3 from 'llama3-tokenizer-js';
import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';

// A step as the math-shepherd format writes it, and the token the tag
// must be: the SentencePiece ids are "▁ки" (12902 is the step tag id of
// peiyi9979/math-shepherd-mistral-7b-prm), the BPE ones " ки".
const text = 'Step 1: 2 + 2 = 4. ки\nStep 2: 4 * 3 = 12. ки';
const cases = [
  { name: 'mistral-7b', enc: (s) => mistral.encode(s, false), oneToken: true, id: 12902 },
  { name: 'llama-2', enc: (s) => llama.encode(s, false), oneToken: true, id: 8094 },
  { name: 'llama-3', enc: (s) => llama3.encode(s, { bos: false, eos: false }), oneToken: true, id: 116624 },
  { name: 'o200k_base', enc: (s) => o200k.encode(s), oneToken: true, id: 12319 },
  // GPT-4's cl100k_base splits it into " к" + "и": not usable as a tag.
  { name: 'cl100k_base', enc: (s) => cl100k.encode(s), oneToken: false },
];

let passed = 0;
let failed = 0;
for (const c of cases) {
  const ids = c.enc(text);
  const count = c.id === undefined ? 0 : ids.filter((i) => i === c.id).length;
  const one = c.id !== undefined && count === 2; // both tags, one token each
  const ok = c.oneToken ? one : c.enc(' ки').length > 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name}: " ки" ${c.oneToken ? `is one token (id ${c.id}, found ${count} of 2)` : `is ${c.enc(' ки').length} tokens`}`);
  if (ok) passed++; else failed++;
}
console.log(`step tag: ${passed + failed} tokenizers checked, ${failed} not as expected`);
process.exit(failed ? 1 : 0);
