package rollout

import (
	"strings"
	"testing"
)

func TestPromptDefaultTemplate(t *testing.T) {
	pt, err := ParsePromptTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	q := "Let $x<y$ & find <b>x</b>."
	prefix := "Step 1: \"quote\" & {{braces}}\n\n"
	out, err := pt.Render(q, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "Answer: "+prefix) {
		t.Errorf("prompt does not end with the byte-exact prefix: %q", out)
	}
	if !strings.Contains(out, q) || !strings.Contains(out, `\boxed{}`) {
		t.Errorf("prompt = %q", out)
	}
	// Every prefix of a solution extends the previous prompt (prefix cache).
	p1, _ := pt.Render(q, "Step 1.\n")
	p2, _ := pt.Render(q, "Step 1.\nStep 2.\n")
	if !strings.HasPrefix(p2, p1) {
		t.Errorf("prompt of a longer prefix does not extend the shorter one")
	}
	empty, _ := pt.Render(q, "")
	if !strings.HasSuffix(empty, "Answer: ") {
		t.Errorf("empty-prefix prompt = %q", empty)
	}
}

func TestPromptCustomTemplate(t *testing.T) {
	pt, err := ParsePromptTemplate("<|im_start|>user\n{{.Question}}<|im_end|>\n<|im_start|>assistant\n{{.Prefix}}")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := pt.Render("Q?", "A")
	if want := "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nA"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	for _, bad := range []string{
		"{{.Question",              // parse error
		"{{.Missing}} {{.Prefix}}", // unknown field
		"{{.Question}}",            // no prefix
		"{{.Prefix}}\n",            // something after the prefix
		"{{.Prefix | printf \"%q\"}}",
	} {
		if _, err := ParsePromptTemplate(bad); err == nil || !strings.HasPrefix(err.Error(), "prompt template:") {
			t.Errorf("ParsePromptTemplate(%q) err = %v", bad, err)
		}
	}
}
