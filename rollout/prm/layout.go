package prm

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// LayoutName names a way of marking the steps of a solution for a process
// reward model.
type LayoutName string

// The layouts. See the package documentation for the exact strings.
const (
	LayoutMathShepherd LayoutName = "math-shepherd"
	LayoutQwenPRM      LayoutName = "qwen-prm"
	LayoutCustom       LayoutName = "custom"
)

// QwenSystemPrompt is the system turn Qwen2.5-Math-PRM was trained with.
const QwenSystemPrompt = `Please reason step by step, and put your final answer within \boxed{}.`

// MaxStepTagBytes bounds a custom step tag.
const MaxStepTagBytes = 64

// maxPositiveIndex bounds a custom positive index: no classifier head has
// this many classes.
const maxPositiveIndex = 1 << 16

// Layout is how a reward model expects the question and the steps of a
// solution to be laid out, and where in its per-step output the "step is
// good" probability is.
type Layout struct {
	Name LayoutName
	// StepTag is the text that ends every step; the model emits one row of
	// class probabilities per occurrence.
	StepTag string
	// PositiveIndex is the index of the "step is good" class in each row
	// of a pooling answer.
	PositiveIndex int
	// TagTokenID, GoodTokenID and BadTokenID, when GoodTokenID is set,
	// make the layout a causal LM's: the step tag is one token, and a
	// step's score is the softmax over the logits of the good and bad
	// tokens at the tag, read from prompt logprobs on /v1/completions
	// (see the package documentation). Zero: scored through /pooling.
	TagTokenID  int
	GoodTokenID int
	BadTokenID  int
}

// API is the vLLM endpoint that computes a layout's step scores.
type API string

// The scoring APIs.
const (
	// APIPooling posts to /pooling: a reward model whose head gives class
	// probabilities per step tag (Qwen2.5-Math-PRM served with --runner
	// pooling).
	APIPooling API = "pooling"
	// APICompletions posts to /tokenize and /v1/completions with
	// prompt_logprobs: a causal LM PRM on a stock `vllm serve <model>`.
	APICompletions API = "completions"
)

// API returns the endpoint that computes the layout's scores: completions
// when the layout has good and bad token ids, else pooling.
func (l Layout) API() API {
	if l.orDefault().GoodTokenID != 0 {
		return APICompletions
	}
	return APIPooling
}

// CheckAPI refuses an explicitly requested API that cannot compute the
// layout's scores ("" or "auto" accepts the layout's own), with a message
// that says which to use.
func CheckAPI(l Layout, api string) error {
	l = l.orDefault()
	switch API(strings.ToLower(strings.TrimSpace(api))) {
	case "", "auto", l.API():
		return nil
	case APIPooling:
		if l.Name == LayoutMathShepherd {
			return fmt.Errorf("layout math-shepherd through /pooling gives meaningless numbers: its PRM is a causal LM, and vLLM's reward pooling " +
				"drops the LM head, so STEP pooling softmaxes two hidden-state dimensions (vLLM issue 16545); " +
				"serve it as a generative model (vllm serve peiyi9979/math-shepherd-mistral-7b-prm) and score with --prm-api completions")
		}
		return fmt.Errorf("layout %s with good and bad token ids is scored from the LM head's logits: use --prm-api completions on a stock vllm serve", l.Name)
	case APICompletions:
		return fmt.Errorf("layout %s is scored by a reward head through /pooling (vllm serve <model> --runner pooling): use --prm-api pooling, "+
			"or give --good-token-id, --bad-token-id and --step-tag-id for a causal LM PRM", l.Name)
	}
	return fmt.Errorf("unknown PRM API %q (want %s or %s)", api, APICompletions, APIPooling)
}

// The built-in layouts.
var (
	// MathShepherd is peiyi9979/math-shepherd-mistral-7b-prm's layout:
	// "<question> <step 1> ки\n<step 2> ки…", scored by P("+") against
	// P("-") at each tag, "+" first.
	// Its token ids are the model card's: step_tag_id 12902 and
	// candidate_tokens [648, 387].
	MathShepherd = Layout{Name: LayoutMathShepherd, StepTag: "ки", PositiveIndex: 0,
		TagTokenID: 12902, GoodTokenID: 648, BadTokenID: 387}
	// QwenPRM is Qwen2.5-Math-PRM's chat layout with "<extra_0>" after
	// every step; class 1 is positive.
	QwenPRM = Layout{Name: LayoutQwenPRM, StepTag: "<extra_0>", PositiveIndex: 1}
)

// Custom returns the custom layout: "<question>\n<step 1><tag>\n<step
// 2><tag>…", scored by the class at index positive.
func Custom(tag string, positive int) Layout {
	return Layout{Name: LayoutCustom, StepTag: tag, PositiveIndex: positive}
}

// CustomTokens returns the custom layout of a causal LM PRM: the step tag
// is the single token tagID, and a step's score is the softmax over the
// logits of the good and bad tokens there (RLHFlow-style "+"/"-" PRMs).
func CustomTokens(tag string, tagID, good, bad int) Layout {
	return Layout{Name: LayoutCustom, StepTag: tag, TagTokenID: tagID, GoodTokenID: good, BadTokenID: bad}
}

// ParseLayout returns the layout called name ("" means math-shepherd).
// tag and positive (negative: not given) are required for custom and must
// not be given for the built-in layouts, whose tag and positive class are
// fixed.
func ParseLayout(name, tag string, positive int) (Layout, error) {
	return ParseLayoutSpec(LayoutSpec{Name: name, Tag: tag, Positive: positive})
}

// LayoutSpec is a layout as given on a command line. Negative or zero
// numbers are "not given".
type LayoutSpec struct {
	Name     string
	Tag      string
	Positive int // custom through /pooling; negative: not given
	// TagTokenID, GoodTokenID and BadTokenID (custom through
	// /v1/completions; zero: not given).
	TagTokenID, GoodTokenID, BadTokenID int
}

// ParseLayoutSpec returns the layout spec describes. Layout custom needs a
// tag and either a positive index (scored through /pooling) or all three
// token ids (scored through /v1/completions); the built-in layouts take
// neither.
func ParseLayoutSpec(sp LayoutSpec) (Layout, error) {
	ids := sp.TagTokenID != 0 || sp.GoodTokenID != 0 || sp.BadTokenID != 0
	switch LayoutName(strings.ToLower(strings.TrimSpace(sp.Name))) {
	case "", LayoutMathShepherd:
		return builtin(MathShepherd, sp, ids)
	case LayoutQwenPRM:
		return builtin(QwenPRM, sp, ids)
	case LayoutCustom:
		var l Layout
		switch {
		case sp.Tag == "":
			return Layout{}, fmt.Errorf("layout custom needs a step tag")
		case ids && sp.Positive >= 0:
			return Layout{}, fmt.Errorf("layout custom takes either a positive class index (a reward head through /pooling) or token ids (a causal LM through /v1/completions), not both")
		case ids:
			l = CustomTokens(sp.Tag, sp.TagTokenID, sp.GoodTokenID, sp.BadTokenID)
		case sp.Positive < 0:
			return Layout{}, fmt.Errorf("layout custom needs the positive class index (a reward head through /pooling) or the step tag, good and bad token ids (a causal LM through /v1/completions)")
		default:
			l = Custom(sp.Tag, sp.Positive)
		}
		return l, l.Validate()
	}
	return Layout{}, fmt.Errorf("unknown layout %q (want %s, %s or %s)", sp.Name, LayoutMathShepherd, LayoutQwenPRM, LayoutCustom)
}

func builtin(l Layout, sp LayoutSpec, ids bool) (Layout, error) {
	if sp.Tag != "" {
		return Layout{}, fmt.Errorf("a step tag applies to layout custom only (%s always uses %q)", l.Name, l.StepTag)
	}
	if sp.Positive >= 0 {
		return Layout{}, fmt.Errorf("a positive class index applies to layout custom only (%s always uses %d)", l.Name, l.PositiveIndex)
	}
	if ids {
		return Layout{}, fmt.Errorf("token ids apply to layout custom only (%s has its own)", l.Name)
	}
	return l, nil
}

// orDefault returns MathShepherd for the zero Layout.
func (l Layout) orDefault() Layout {
	if l == (Layout{}) {
		return MathShepherd
	}
	return l
}

// Validate checks a layout: a built-in layout must carry its own tag and
// positive index; a custom one a non-blank UTF-8 tag of at most
// MaxStepTagBytes and a non-negative index. The zero Layout is valid (it
// means MathShepherd).
func (l Layout) Validate() error {
	l = l.orDefault()
	switch l.Name {
	case LayoutMathShepherd, LayoutQwenPRM:
		want := MathShepherd
		if l.Name == LayoutQwenPRM {
			want = QwenPRM
		}
		if l != want {
			return fmt.Errorf("layout %s has step tag %q, positive index %d and token ids %d/%d/%d, not %q, %d and %d/%d/%d", l.Name,
				want.StepTag, want.PositiveIndex, want.TagTokenID, want.GoodTokenID, want.BadTokenID,
				l.StepTag, l.PositiveIndex, l.TagTokenID, l.GoodTokenID, l.BadTokenID)
		}
		return nil
	case LayoutCustom:
		switch {
		case strings.TrimSpace(l.StepTag) == "":
			return fmt.Errorf("step tag must not be empty or blank")
		case len(l.StepTag) > MaxStepTagBytes:
			return fmt.Errorf("step tag is %d bytes, more than the limit of %d", len(l.StepTag), MaxStepTagBytes)
		case !utf8.ValidString(l.StepTag):
			return fmt.Errorf("step tag %q is not valid UTF-8", l.StepTag)
		case l.PositiveIndex < 0 || l.PositiveIndex >= maxPositiveIndex:
			return fmt.Errorf("positive index must be in [0, %d), got %d", maxPositiveIndex, l.PositiveIndex)
		}
		if l.TagTokenID == 0 && l.GoodTokenID == 0 && l.BadTokenID == 0 {
			return nil
		}
		switch {
		case l.TagTokenID <= 0 || l.GoodTokenID <= 0 || l.BadTokenID <= 0:
			return fmt.Errorf("step tag, good and bad token ids must all be given and positive, got %d, %d and %d", l.TagTokenID, l.GoodTokenID, l.BadTokenID)
		case l.GoodTokenID == l.BadTokenID:
			return fmt.Errorf("good and bad token ids must differ, both are %d", l.GoodTokenID)
		case l.PositiveIndex != 0:
			return fmt.Errorf("a positive class index (%d) does not apply to a layout scored by token ids", l.PositiveIndex)
		}
		return nil
	}
	return fmt.Errorf("unknown layout %q (want %s, %s or %s)", l.Name, LayoutMathShepherd, LayoutQwenPRM, LayoutCustom)
}

// Render lays out a question and its steps for the reward model. The
// model returns one row of class probabilities per step tag, so neither the
// question nor a step may contain the tag itself: that would add a step.
func (l Layout) Render(question string, steps []string) (string, error) {
	l = l.orDefault()
	if err := l.Validate(); err != nil {
		return "", err
	}
	if len(steps) == 0 {
		return "", fmt.Errorf("no steps to score")
	}
	if strings.Contains(question, l.StepTag) {
		return "", fmt.Errorf("the question contains the step tag %q, which the reward model would score as a step", l.StepTag)
	}
	for i, s := range steps {
		if strings.Contains(s, l.StepTag) {
			return "", fmt.Errorf("step %d contains the step tag %q, which the reward model would score as a step", i, l.StepTag)
		}
	}
	var b strings.Builder
	switch l.Name {
	case LayoutMathShepherd:
		// The model card's input: question + " " + steps, each step
		// followed by " ки", steps separated by "\n".
		b.WriteString(question)
		b.WriteByte(' ')
		for i, s := range steps {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(s)
			b.WriteString(" ")
			b.WriteString(l.StepTag)
		}
	case LayoutQwenPRM:
		// The model card's chat template with the steps joined and ended
		// by "<extra_0>", rendered as vLLM's own reward test does.
		b.WriteString("<|im_start|>system\n")
		b.WriteString(QwenSystemPrompt)
		b.WriteString("<|im_end|>\n<|im_start|>user\n")
		b.WriteString(question)
		b.WriteString("<|im_end|>\n<|im_start|>assistant\n")
		for _, s := range steps {
			b.WriteString(s)
			b.WriteString(l.StepTag)
		}
		b.WriteString("<|im_end|><|endoftext|>")
	case LayoutCustom:
		b.WriteString(question)
		for _, s := range steps {
			b.WriteByte('\n')
			b.WriteString(s)
			b.WriteString(l.StepTag)
		}
	}
	return b.String(), nil
}

// String returns the layout's name.
func (l Layout) String() string { return string(l.orDefault().Name) }
