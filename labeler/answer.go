package labeler

import "strings"

// The gold answer of a problem is read here, in the core, because Prepare
// needs it; labeler/grade builds its answer extraction on the same box and
// brace reading (LastBoxed, MatchBrace, CleanAnswer).

// GoldAnswer returns the gold answer carried by s: the text after the last
// "####" if there is one (GSM8K), else the content of the last \boxed{} if s
// contains one (MATH solutions), else s trimmed.
func GoldAnswer(s string) string {
	if i := strings.LastIndex(s, "####"); i >= 0 {
		if a := strings.TrimSpace(s[i+4:]); a != "" {
			return a
		}
	}
	if strings.Contains(s, `\boxed`) || strings.Contains(s, `\fbox`) {
		if a, _, ok := LastBoxed(s, len(s)); ok {
			return a
		}
	}
	return strings.TrimSpace(s)
}

// CleanAnswer trims white space, '$', markdown emphasis '*' and trailing
// periods from an answer candidate.
func CleanAnswer(s string) string {
	for {
		t := strings.TrimSpace(s)
		t = strings.Trim(t, "$*")
		t = strings.TrimRight(t, ".")
		if t == s {
			return t
		}
		s = t
	}
}

// LastBoxed returns the content of the last complete, non-empty \boxed or
// \fbox in s[:end] and the index where that box starts.
func LastBoxed(s string, end int) (answer string, start int, ok bool) {
	for end > 0 {
		i := lastIndexAny2(s[:end], `\boxed`, `\fbox`)
		if i < 0 {
			return "", -1, false
		}
		end = i
		j := i + len(`\boxed`)
		if strings.HasPrefix(s[i:], `\fbox`) {
			j = i + len(`\fbox`)
		}
		if a, ok := boxArgument(s, j); ok {
			return a, i, true
		}
	}
	return "", -1, false
}

func lastIndexAny2(s, a, b string) int {
	i, j := strings.LastIndex(s, a), strings.LastIndex(s, b)
	if j > i {
		return j
	}
	return i
}

// boxArgument reads the argument of a box command whose name ends at j.
func boxArgument(s string, j int) (string, bool) {
	if j < len(s) && ('a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z') {
		return "", false // another command, like \boxedsomething
	}
	k := j
	for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
		k++
	}
	if k < len(s) && s[k] == '{' {
		close := MatchBrace(s, k)
		if close < 0 {
			return "", false
		}
		a := CleanAnswer(s[k+1 : close])
		return a, a != ""
	}
	if k == j {
		return "", false // \boxed5 is not a box
	}
	// \boxed 5: one token up to white space or '$'.
	e := k
	for e < len(s) && s[e] != ' ' && s[e] != '\t' && s[e] != '\n' && s[e] != '\r' && s[e] != '$' {
		e++
	}
	a := CleanAnswer(s[k:e])
	return a, a != ""
}

// MatchBrace returns the index of the '}' closing the '{' at s[open],
// or -1. Escaped braces \{ and \} do not count.
func MatchBrace(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // skip the escaped character
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
