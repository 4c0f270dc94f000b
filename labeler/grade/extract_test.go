package grade

import (
	"strings"
	"testing"
)

func TestExtractAnswer(t *testing.T) {
	tests := []extractCase{
		// \boxed and \fbox
		{"boxed", `so $x = \boxed{5}$.`, "5", true},
		{"boxed nested braces", `\boxed{\frac{1}{2}}`, `\frac{1}{2}`, true},
		{"boxed deep nesting", `\boxed{\left\{ \frac{\sqrt{2}}{3} \right\}}`, `\left\{ \frac{\sqrt{2}}{3} \right\}`, true},
		{"boxed last wins", `first \boxed{1}, then \boxed{2}`, "2", true},
		{"fbox", `hence \fbox{7}`, "7", true},
		{"boxed without braces", `$\boxed 5$`, "5", true},
		{"boxed without braces at end", `answer \boxed 12`, "12", true},
		{"boxed beats later marker", "\\boxed{3}\nThe answer is 4", "3", true},
		{"final answer is boxed", `The final answer is $\boxed{\text{(C)}}$. I hope it is correct.`, `\text{(C)}`, true},
		{"empty box skipped", `\boxed{4} and \boxed{}`, "4", true},
		{"unclosed box skipped", `\boxed{4} and then \boxed{12`, "4", true},
		{"boxed trailing period inside", `\boxed{5.}`, "5", true},
		{"not a box command", `\boxedfoo 3 and 4`, "4", true},
		{"escaped braces", `\boxed{\{1,2\}}`, `\{1,2\}`, true},
		// #### (GSM8K)
		{"hashes", "She makes 9 * 2 = $<<9*2=18>>18\n#### 18", "18", true},
		{"hashes with comma", "#### 1,000", "1,000", true},
		{"hashes last wins", "#### 1\n#### 2", "2", true},
		{"hashes beat answer is", "#### 7\nThe answer is 8", "7", true},
		// the answer is
		{"answer is colon", "Step 3: 16 - 7 = 9.\nThe answer is: 18", "18", true},
		{"final answer is", "so the final answer is 42.", "42", true},
		{"answer is case", "THE ANSWER IS 7", "7", true},
		{"answer is dollar", "The answer is $\\frac{3}{4}$.", `\frac{3}{4}`, true},
		{"answer is sentence end", "The answer is 3.5. I checked it twice.", "3.5", true},
		{"answer is last wins", "The answer is 1.\nWait, the answer is 2.", "2", true},
		{"answer is empty skipped", "The answer is 5\nthe answer is", "5", true},
		{"answer is beats Answer:", "Answer: 3\nThe answer is 4", "4", true},
		// Answer:
		{"Answer colon", "Work.\nAnswer: 42", "42", true},
		{"Final Answer colon", "Final Answer: $x = 2$", "x = 2", true},
		{"answer colon lower", "answer: 12 apples", "12", true},
		// A: at line start
		{"A line", "Janet sells 9 eggs.\nA: 18", "18", true},
		{"A line indented", "text\n  A: 5", "5", true},
		{"A not at line start", "Q: what is it? A: 5 is it", "5", true},
		{"A line last wins", "A: 1\nmore\nA: 2", "2", true},
		// last number
		{"last number", "there are 3 apples and 5 oranges", "5", true},
		{"last number comma", "the total is 1,234,567 dollars", "1,234,567", true},
		{"last number decimal", "it costs 2.50 now", "2.50", true},
		{"last number negative", "so x = -3", "-3", true},
		{"last number binary minus", "compute 7-3", "3", true},
		{"last number fraction", "the ratio is 3/4", "3/4", true},
		{"last number leading dot", "about .5 of them", ".5", true},
		{"last number sentence period", "The result is 12.", "12", true},
		{"calculator notes", "2 * 9 = <<2*9=18>>18 per day", "18", true},
		{"two does not become twelve", "12 and then 2", "2", true},
		{"last number fraction latex", `so $\cos \angle RPS = -\frac{24}{25}$`, `-\frac{24}{25}`, true},
		{"last number fraction latex nested", `the value is \(-\frac{2\sqrt{3}}{3}\).`, `-\frac{2\sqrt{3}}{3}`, true},
		{"last number dfrac", `area \(\dfrac{8\pi}{5}\) square units`, `\dfrac{8\pi}{5}`, true},
		{"last number not a fraction", `we get {2}{3} here`, "3", true},
		{"last number binom is not a fraction", `\binom{5}{2}`, "2", true},
		// markdown emphasis
		{"bold answer", "The final answer is **12**.", "12", true},
		{"bold marker", "**Answer:** 7", "7", true},
		{"bold last number", "there are **36** rectangles", "36", true},
		// nothing
		{"empty", "", "", false},
		{"no number", "I do not know.", "", false},
		{"only markers", "The answer is: \n#### \n\\boxed{}", "", false},
		{"only dollar", "The answer is $", "", false},
		// Stated final answers, from grading real model outputs
		// (ProcessBench; shepherd-grader/2): a stated final answer is
		// preferred.
		// A closing sentence restating the computed result: the result,
		// not a number of the context.
		{"restated result over context number", "Add: \\[14 \\text{ hours} + 20 \\text{ hours} = 34 \\text{ hours}\\] So, she spends a total of 34 hours on practice in 4 weeks.", "34", true},
		{"closing sentence single number", "She has 5 + 3 = 8 apples.\n\nShe gives 2 away, so she keeps 6.", "6", true},
		{"value after last is", "We simplify.\n\nThe range of \\(f(x) = \\arctan x\\) is \\(\\left[-\\frac{\\pi}{2}, \\frac{\\pi}{2}\\right]\\). This covers all steps.", `\left[-\frac{\pi}{2}, \frac{\pi}{2}\right]`, true},
		{"value after is: display", "Thus, the equation of the circle is:\n\\[ x^2 + y^2 = 13 \\]", `x^2 + y^2 = 13`, true},
		{"value after is: then prose", "Therefore, the function is: \\[f(x) = -x + 1.\\] This function is indeed injective since it has a non-zero derivative (\\(-1\\)) everywhere.", `f(x) = -x + 1`, true},
		{"value after last equals", "So the total is 5 + 3 = 8 apples.", "8", true},
		{"leave it as unicode root", "We cannot simplify it, so we leave it as √3.", "√3", true},
		{"unicode root with coefficient", "The side is then 2√3 cm long.", "2√3", true},
		{"leave it as root", "We cannot simplify further, so we leave it as $\\sqrt{3}$.", `\sqrt{3}`, true},
		{"value on the left of a name", "Solving:\n\\[ 1 = \\frac{A_{4}}{3} \\]\n\\[ 3 = A_{4} \\]", "3", true},
		{"bold value after is", "So the least time is **3** minutes, for n at least 5.", "3", true},
		{"filler after is", "The number of trips is therefore 2.", "2", true},
		{"formula then a lower-case clause", "Thus the solution is:\n\\[ f(n) = n^2 \\]\nfor all positive integers \\(n\\).", "f(n) = n^2", true},
		{"bare name at the end is not a result", "It is 12 when m = 3.\n\nIt depends on \\(m\\) and \\(p\\).", "3", true},
		{"prose after is is skipped", "Hence \\(x = 4\\). This value is indeed valid since 4 > 0 holds.", "4", true},
		// No final answer stated: none, not an incidental number.
		{"negated closing sentence", "If we let x = 14, then y = 15.\n\nSo, x = 14 and y = 15 is not a solution.", "", false},
		// Markers taking only the answer.
		{"Answer: sentence", "Change: $20 - $13 = $7.\n\n**Answer:** Verna received $7.00 in change.", "7.00", true},
		{"answer is with unit words", "The answer is 18 dollars because she sold them.", "18", true},
		{"Answer: words kept", "Answer: Evelyn", "Evelyn", true},
		// Final answer headings with the answer below.
		{"final answer heading bold", "Total: 2 * 3 = 6.\n\n### Final Answer\n\n**6**", "6", true},
		{"final answer bold heading", "Steps 1 and 2.\n\n**Final Answer:**\nThe total is 12 hours.", "12", true},
		// GSM8K answer lines, not markdown headings.
		{"markdown heading is not ####", "#### For \\(T = 3\\):\nWe get 3 + 4 = 7.", "7", true},
		{"hashes answer", "So 18.\n#### 18", "18", true},
	}
	checkExtract(t, tests)
}

// extractCase is a response text and the answer ExtractAnswer should find.
type extractCase struct {
	name, text, want string
	ok               bool
}

// checkExtract runs ExtractAnswer over cases; a found answer must also be
// a non-empty substring of the text.
func checkExtract(t *testing.T, tests []extractCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ExtractAnswer(tc.text)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ExtractAnswer(%q) = %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
			}
			if ok && (got == "" || !strings.Contains(tc.text, got)) {
				t.Errorf("answer %q is empty or not a substring of the text", got)
			}
		})
	}
}
