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
	// PositiveIndex is the index of the "step is good" class in each row.
	PositiveIndex int
}

// The built-in layouts.
var (
	// MathShepherd is peiyi9979/math-shepherd-mistral-7b-prm's layout:
	// "<question> <step 1> ки\n<step 2> ки…", scored by P("+") against
	// P("-") at each tag, "+" first.
	MathShepherd = Layout{Name: LayoutMathShepherd, StepTag: "ки", PositiveIndex: 0}
	// QwenPRM is Qwen2.5-Math-PRM's chat layout with "<extra_0>" after
	// every step; class 1 is positive.
	QwenPRM = Layout{Name: LayoutQwenPRM, StepTag: "<extra_0>", PositiveIndex: 1}
)

// Custom returns the custom layout: "<question>\n<step 1><tag>\n<step
// 2><tag>…", scored by the class at index positive.
func Custom(tag string, positive int) Layout {
	return Layout{Name: LayoutCustom, StepTag: tag, PositiveIndex: positive}
}

// ParseLayout returns the layout called name ("" means math-shepherd).
// tag and positive (negative: not given) are required for custom and must
// not be given for the built-in layouts, whose tag and positive class are
// fixed.
func ParseLayout(name, tag string, positive int) (Layout, error) {
	switch LayoutName(strings.ToLower(strings.TrimSpace(name))) {
	case "", LayoutMathShepherd:
		return builtin(MathShepherd, tag, positive)
	case LayoutQwenPRM:
		return builtin(QwenPRM, tag, positive)
	case LayoutCustom:
		if tag == "" {
			return Layout{}, fmt.Errorf("layout custom needs a step tag")
		}
		if positive < 0 {
			return Layout{}, fmt.Errorf("layout custom needs the positive class index")
		}
		l := Custom(tag, positive)
		return l, l.Validate()
	}
	return Layout{}, fmt.Errorf("unknown layout %q (want %s, %s or %s)", name, LayoutMathShepherd, LayoutQwenPRM, LayoutCustom)
}

func builtin(l Layout, tag string, positive int) (Layout, error) {
	if tag != "" {
		return Layout{}, fmt.Errorf("a step tag applies to layout custom only (%s always uses %q)", l.Name, l.StepTag)
	}
	if positive >= 0 {
		return Layout{}, fmt.Errorf("a positive class index applies to layout custom only (%s always uses %d)", l.Name, l.PositiveIndex)
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
			return fmt.Errorf("layout %s has step tag %q and positive index %d, not %q and %d", l.Name, want.StepTag, want.PositiveIndex, l.StepTag, l.PositiveIndex)
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
