package labeler

import "testing"

func TestGoldAnswer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18", "18"},
		{"#### 1\nmore\n#### 2 ", "2"},
		{`The area is $\boxed{864 \mbox{ inches}^2}$.`, `864 \mbox{ inches}^2`},
		{`first \boxed{1} then \boxed{\frac{1}{2}}`, `\frac{1}{2}`},
		{"  \\frac{3}{4}\n", `\frac{3}{4}`},
		{"72", "72"},
		{`\boxed{unclosed`, `\boxed{unclosed`},
		{"####", "####"},
	}
	for _, tc := range tests {
		if got := GoldAnswer(tc.in); got != tc.want {
			t.Errorf("GoldAnswer(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
