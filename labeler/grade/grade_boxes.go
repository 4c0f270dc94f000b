package grade

import (
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
)

// boxGap is the most bytes between consecutive boxes read as the parts of
// one answer: parts are boxed together at the end ("x = \boxed{-1} or
// x = \boxed{-9}"), while a box far earlier is an intermediate result.
const boxGap = 600

// boxedParts returns the answer made of the last n boxes of response when
// gold has n >= 2 parts: an unordered list ("-1, -9") is compared with the
// boxes joined by commas, an ordered pair or tuple ("(1, 2)") with the
// boxes joined in their order inside parentheses, so an ordered answer is
// never matched in another order. ok is false when gold has one part, the
// response has fewer boxes, or they are not close together at the end.
func boxedParts(gold, response string) (string, bool) {
	if !mayHaveParts(gold) || !strings.Contains(response, `\boxed`) && !strings.Contains(response, `\fbox`) {
		return "", false
	}
	ng := normalizeAnswer(strings.TrimSpace(gold))
	if len(ng.s) > maxAnswerLen || ng.s == "" {
		return "", false
	}
	p := parseStructure(ng.s, 0)
	n := len(p.elems)
	ordered := p.kind == kTuple && p.open == '(' && p.close == ')'
	if n < 2 || n > maxElems || !(p.kind == kList || ordered) {
		return "", false
	}
	boxes := make([]string, 0, n)
	end, prev := len(response), -1
	for len(boxes) < n {
		a, at, ok := labeler.LastBoxed(response, end)
		if !ok || prev >= 0 && prev-at > boxGap {
			return "", false
		}
		boxes = append(boxes, a)
		end, prev = at, at
	}
	// boxes are last first; put them in text order.
	for i, j := 0, len(boxes)-1; i < j; i, j = i+1, j-1 {
		boxes[i], boxes[j] = boxes[j], boxes[i]
	}
	joined := strings.Join(boxes, ", ")
	if ordered {
		joined = "(" + joined + ")"
	}
	return joined, true
}

// mayHaveParts is a quick test that gold can parse as several parts (see
// parseStructure): a separator, \pm, \cup or "or"/"and".
func mayHaveParts(gold string) bool {
	return strings.ContainsAny(gold, ",;") || strings.Contains(gold, `\pm`) || strings.Contains(gold, `\mp`) ||
		strings.Contains(gold, `\cup`) || strings.Contains(gold, "or") || strings.Contains(gold, "and")
}
