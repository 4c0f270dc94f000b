package sim

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Fleet is several simulated servers, each on its own loopback port, like
// a fleet of GPUs behind one model name. Benchmarks read its counters to
// report utilization.
type Fleet struct {
	Servers []*Server
	URLs    []string // base URLs, "http://127.0.0.1:PORT/v1", in Servers' order
	stops   []func()
}

// StartFleet starts n servers with opt. Each server's faults draw from
// FaultSeed plus its index, so that they do not fail in lockstep.
func StartFleet(n int, opt Options) (*Fleet, error) {
	if n < 1 {
		return nil, fmt.Errorf("sim: a fleet needs at least 1 server, got %d", n)
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	f := &Fleet{}
	for i := range n {
		o := opt
		o.FaultSeed += int64(i)
		s := New(o)
		u, stop, err := s.Start()
		if err != nil {
			f.Stop()
			return nil, err
		}
		f.Servers, f.URLs, f.stops = append(f.Servers, s), append(f.URLs, u), append(f.stops, stop)
	}
	return f, nil
}

// Stop stops every server.
func (f *Fleet) Stop() {
	for _, s := range f.stops {
		s()
	}
	f.stops = nil
}

// Slots is the fleet's bound on sequences generated at once (0 when a
// server is unbounded).
func (f *Fleet) Slots() int {
	total := 0
	for _, s := range f.Servers {
		if s.opt.MaxNumSeqs == 0 {
			return 0
		}
		total += s.opt.MaxNumSeqs
	}
	return total
}

// Stats sums every server's counters.
func (f *Fleet) Stats() Stats {
	sum := Stats{ByStatus: map[int]int64{}}
	for _, s := range f.Servers {
		sum.add(s.Stats())
	}
	return sum
}

// add adds st's counters to s. Every field of Stats is a count or a sum
// over the servers, so each is added by its kind and a new counter needs
// no line here.
func (s *Stats) add(st Stats) {
	dst, src := reflect.ValueOf(s).Elem(), reflect.ValueOf(st)
	for i := range dst.NumField() {
		d, v := dst.Field(i), src.Field(i)
		switch d.Kind() {
		case reflect.Int, reflect.Int64:
			d.SetInt(d.Int() + v.Int())
		case reflect.Float64:
			d.SetFloat(d.Float() + v.Float())
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				n := it.Value().Int()
				if old := d.MapIndex(it.Key()); old.IsValid() {
					n += old.Int()
				}
				d.SetMapIndex(it.Key(), reflect.ValueOf(n))
			}
		default:
			panic("sim: Stats." + dst.Type().Field(i).Name + " has no sum")
		}
	}
}

// Utilization is the share of the fleet's slots that generated during wall,
// given the SeqSeconds generated meanwhile; 0 for an unbounded fleet.
func (f *Fleet) Utilization(seqSeconds float64, wall time.Duration) float64 {
	slots := f.Slots()
	if slots == 0 || wall <= 0 {
		return 0
	}
	return seqSeconds / (float64(slots) * wall.Seconds())
}

// ParseSpec reads a simulator backend spec, "sim" optionally followed by a
// query of options: "sim?count=16&max-num-seqs=64&latency=40ms&token-latency=5ms".
// The keys are `shepherd sim`'s flag names (model, step-accuracy,
// phrasings, block-size, cache-blocks, latency, token-latency,
// prefill-token-latency, max-num-seqs, max-n, max-model-len) and count, the
// number of servers (default 1). It returns the options and the count.
func ParseSpec(spec string) (Options, int, error) {
	var o Options
	name, query, _ := strings.Cut(spec, "?")
	if name != "sim" {
		return o, 0, fmt.Errorf("simulator spec %q: must start with \"sim\"", spec)
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return o, 0, fmt.Errorf("simulator spec %q: %v", spec, err)
	}
	count := 1
	for key, vs := range vals {
		if len(vs) != 1 {
			return o, 0, fmt.Errorf("simulator spec %q: %s given %d times", spec, key, len(vs))
		}
		v := vs[0]
		var perr error
		intVal := func(dst *int) {
			var n int
			n, perr = strconv.Atoi(v)
			*dst = n
		}
		durVal := func(dst *time.Duration) { *dst, perr = time.ParseDuration(v) }
		switch key {
		case "count":
			intVal(&count)
			if perr == nil && (count < 1 || count > 1024) {
				return o, 0, fmt.Errorf("simulator spec %q: count=%d: must be in [1, 1024]", spec, count)
			}
		case "model":
			o.Model = v
		case "step-accuracy":
			o.StepAccuracy, perr = strconv.ParseFloat(v, 64)
		case "phrasings":
			intVal(&o.Phrasings)
		case "block-size":
			intVal(&o.BlockSize)
		case "cache-blocks":
			intVal(&o.CacheBlocks)
		case "latency":
			durVal(&o.Latency)
		case "token-latency":
			durVal(&o.TokenLatency)
		case "prefill-token-latency":
			durVal(&o.PrefillTokenLatency)
		case "max-num-seqs":
			intVal(&o.MaxNumSeqs)
		case "max-n":
			intVal(&o.MaxN)
		case "max-model-len":
			intVal(&o.MaxModelLen)
		default:
			return o, 0, fmt.Errorf("simulator spec %q: unknown option %q (count, model, step-accuracy, phrasings, block-size, cache-blocks, latency, token-latency, prefill-token-latency, max-num-seqs, max-n, max-model-len)", spec, key)
		}
		if perr != nil {
			return o, 0, fmt.Errorf("simulator spec %q: %s=%q: %v", spec, key, v, perr)
		}
	}
	if err := o.Validate(); err != nil {
		return o, 0, fmt.Errorf("simulator spec %q: %v", spec, err)
	}
	return o, count, nil
}

// The fleet benchmark's setup (issue: keep a GPU fleet busy), shared by the
// embedded and the distributed benchmarks: BenchFleetSpec is 16 servers that
// behave like GPUs generating at most 64 sequences at once, 40 ms per
// request plus 5 ms per generated token; BenchFleetDataset is what `shepherd
// sim gen --problems 800 --solutions 4 --seed 1` writes (3,200 solutions,
// each step worded one of four ways).
const BenchFleetSpec = "sim?count=16&max-num-seqs=64&latency=40ms&token-latency=5ms"

var BenchFleetDataset = DatasetOptions{Problems: 800, SolutionsPerProblem: 4, Seed: 1, MinOps: 3, MaxOps: 6, ErrorRate: 0.5, Phrasings: 4}
