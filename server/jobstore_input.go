package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// A job's input takes one path: prepare (below) checks a request's
// problems and splits their solutions once, at submit; encodeProblem
// stores each problem with its steps; storedSource replays them to the
// scheduler.

// storedProblem is one entry of a job's input list: a problem with its
// solutions already split at submit, so that a resumed job labels exactly
// the steps that were accepted.
type storedProblem struct {
	ID        string           `json:"id"`
	Question  string           `json:"q"`
	Gold      string           `json:"gold"`
	Solutions []storedSolution `json:"s"`
}

type storedSolution struct {
	ID    string   `json:"id"`
	Text  string   `json:"text"`
	Steps [][3]int `json:"steps"` // start, end, prefix end of each step in Text
}

// encodeProblem encodes the prepared solutions of one problem.
func encodeProblem(sols []labeler.PreparedSolution) (string, error) {
	if len(sols) == 0 {
		return "", fmt.Errorf("problem without solutions")
	}
	p := storedProblem{ID: sols[0].ProblemID, Question: sols[0].Question, Gold: sols[0].Gold}
	for _, s := range sols {
		ss := storedSolution{ID: s.SolutionID, Text: s.Solution.Text, Steps: make([][3]int, len(s.Solution.Steps))}
		for i, st := range s.Solution.Steps {
			ss.Steps[i] = [3]int{st.Start, st.End, st.PrefixEnd}
		}
		p.Solutions = append(p.Solutions, ss)
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// decodeProblem rebuilds the prepared solutions of an input entry.
func decodeProblem(data string) ([]labeler.PreparedSolution, error) {
	var p storedProblem
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return nil, err
	}
	out := make([]labeler.PreparedSolution, len(p.Solutions))
	for i, s := range p.Solutions {
		sol := labeler.Solution{Text: s.Text, Steps: make([]labeler.Step, len(s.Steps))}
		for k, r := range s.Steps {
			if r[0] < 0 || r[0] > r[1] || r[1] > r[2] || r[2] > len(s.Text) {
				return nil, fmt.Errorf("problem %s: solution %s: step %d has a bad range", p.ID, s.ID, k)
			}
			sol.Steps[k] = labeler.Step{Text: s.Text[r[0]:r[1]], Start: r[0], End: r[1], PrefixEnd: r[2]}
		}
		out[i] = labeler.PreparedSolution{ProblemID: p.ID, SolutionID: s.ID, Question: p.Question, Gold: p.Gold, Solution: sol}
	}
	return out, nil
}

// solutionKey names a solution within its job by position, so that
// duplicate problem ids in one job cannot collide.
func solutionKey(problem, solution int) string {
	return strconv.Itoa(problem) + "/" + strconv.Itoa(solution)
}

// inputChunk is how many problems the source loads at once.
const inputChunk = 32

// storedSource replays a job's stored input as a rollout.Source, skipping
// solutions whose record is committed already. The solutions it yields
// carry their solutionKey as Key, which the scheduler hands back on their
// records.
type storedSource struct {
	ctx   context.Context
	st    *store
	keys  rediskeys.Job
	total int64 // problems in the input
	next  int64 // index of the next problem to load

	pending []labeler.PreparedSolution
}

func newStoredSource(ctx context.Context, st *store, jobID string) (*storedSource, error) {
	k := rediskeys.OfJob(jobID)
	n, err := st.rdb.LLen(ctx, k.Input()).Result()
	if err != nil {
		return nil, fmt.Errorf("job %s: input: %w", jobID, err)
	}
	return &storedSource{ctx: ctx, st: st, keys: k, total: n}, nil
}

// Next implements rollout.Source.
func (s *storedSource) Next() (labeler.PreparedSolution, error) {
	for len(s.pending) == 0 {
		if s.next >= s.total {
			return labeler.PreparedSolution{}, io.EOF
		}
		if err := s.load(); err != nil {
			return labeler.PreparedSolution{}, err
		}
	}
	sol := s.pending[0]
	s.pending = s.pending[1:]
	return sol, nil
}

// load reads the next chunk of problems and queues the solutions not done.
func (s *storedSource) load() error {
	from := s.next
	entries, err := s.st.rdb.LRange(s.ctx, s.keys.Input(), from, from+inputChunk-1).Result()
	if err != nil {
		return fmt.Errorf("reading the job's input: %w", err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("reading the job's input: problem %d of %d is missing", from, s.total)
	}
	s.next += int64(len(entries))
	var sols []labeler.PreparedSolution
	var keys []any
	for i, e := range entries {
		ps, err := decodeProblem(e)
		if err != nil {
			return fmt.Errorf("reading the job's input: problem %d: %w", from+int64(i), err)
		}
		for j := range ps {
			ps[j].Key = solutionKey(int(from)+i, j)
			keys = append(keys, ps[j].Key)
			sols = append(sols, ps[j])
		}
	}
	done, err := s.st.rdb.SMIsMember(s.ctx, s.keys.Done(), keys...).Result()
	if err != nil {
		return fmt.Errorf("reading the job's done set: %w", err)
	}
	for i, sol := range sols {
		if !done[i] {
			s.pending = append(s.pending, sol)
		}
	}
	return nil
}

// prepare validates a job request and splits its solutions into steps,
// problem by problem, rejecting a solution that does not split within the
// limits. It returns the effective spec too. This is the one place a job's
// input is checked and split; the job store keeps the steps it returns.
func (s *Server) prepare(r *shepherdv1.SubmitJobRequest) ([][]labeler.PreparedSolution, *shepherdv1.JobSpec, error) {
	spec, err := s.validateSubmit(r)
	if err != nil {
		return nil, nil, err
	}
	lim := labeler.InputLimits{MaxSolutions: s.opt.MaxSolutionsPerProblem,
		SplitOptions: labeler.SplitOptions{Mode: convert.SplitModeOf(spec.GetSplit()), Tag: spec.GetSplitTag(), MaxSteps: int(spec.GetMaxSteps())}}
	out := make([][]labeler.PreparedSolution, len(r.GetProblems()))
	for i, p := range r.GetProblems() {
		if out[i], err = convert.ProblemOf(p).Prepare(problemID(i, p), lim); err != nil {
			return nil, nil, inputError(i, err)
		}
	}
	return out, spec, nil
}

// splitMessage is the splitter's error in the API's words.
func splitMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "labeler: ")
	msg = strings.TrimSuffix(msg, ": "+labeler.ErrTooManySteps.Error())
	return strings.Replace(msg, "(MaxSteps)", "(spec.max_steps)", 1)
}

// problemID is a problem's effective id.
func problemID(i int, p *shepherdv1.Problem) string {
	if id := strings.TrimSpace(p.GetId()); id != "" {
		return id
	}
	return "p" + strconv.Itoa(i)
}

// checkProblem checks what the API alone bounds, the ids' sizes, then the
// problem as the labeler does (labeler.Problem.Check), its faults stated
// under the API's field paths.
func (s *Server) checkProblem(i int, p *shepherdv1.Problem) error {
	at := fmt.Sprintf("problems[%d]", i)
	if len(p.GetId()) > maxIDBytes {
		return invalid("%s.id: %d bytes, more than the limit of %d", at, len(p.GetId()), maxIDBytes)
	}
	for j, sol := range p.GetSolutions() {
		if len(sol.GetId()) > maxIDBytes {
			return invalid("%s.solutions[%d].id: %d bytes, more than the limit of %d", at, j, len(sol.GetId()), maxIDBytes)
		}
	}
	_, err := convert.ProblemOf(p).Check(problemID(i, p), labeler.InputLimits{MaxSolutions: s.opt.MaxSolutionsPerProblem})
	return inputError(i, err)
}

// inputError is the labeler's refusal of problems[i] (a
// *labeler.InputError) as an InvalidArgument naming the API field, and
// the problem and solution by id: a client sending its input in several
// requests (label --server) finds the line from the id.
func inputError(i int, err error) error {
	var e *labeler.InputError
	if !errors.As(err, &e) {
		return err
	}
	at := fmt.Sprintf("problems[%d]", i)
	which := fmt.Sprintf("problem %q", e.ProblemID)
	if e.Solution >= 0 {
		at += fmt.Sprintf(".solutions[%d]", e.Solution)
		which += fmt.Sprintf(", solution %q", e.SolutionID)
	}
	if e.Field != "" {
		at += "." + e.Field
	}
	why := e.Reason
	if e.Err != nil {
		why = splitMessage(e.Err)
	}
	return invalid("%s: %s; %s", at, why, which)
}
