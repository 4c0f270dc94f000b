package main

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/shepherd-prm/shepherd/labeler"
)

// Parquet output of the trainer formats. The columns are those of the JSON
// rows, lists as Parquet LIST columns (what pyarrow and Hugging Face
// datasets read as Python lists):
//
//	trl            prompt string, completions list<string>, labels list<bool>,
//	               soft_labels list<double, nullable elements> (with --soft)
//	math-shepherd  input string, label string, task string (with --task)
//	openrlhf       input string, value list<string> (list<double> with --soft)
//	chat           messages list<struct<role string, content string>>
//
// Files are zstd-compressed with version 1 data pages (the most widely read)
// and row groups of parquetRowGroup rows, so memory stays bounded however
// many rows are written.

var parquetRowGroup int64 = 8192 // a variable for the tests

type pqTRL struct {
	Prompt      string   `parquet:"prompt"`
	Completions []string `parquet:"completions,list"`
	Labels      []bool   `parquet:"labels,list"`
}

type pqTRLSoft struct {
	Prompt      string     `parquet:"prompt"`
	Completions []string   `parquet:"completions,list"`
	Labels      []bool     `parquet:"labels,list"`
	SoftLabels  []*float64 `parquet:"soft_labels,list" parquet-element:",optional"`
}

type pqMathShepherd struct {
	Input string `parquet:"input"`
	Label string `parquet:"label"`
}

type pqMathShepherdTask struct {
	Input string `parquet:"input"`
	Label string `parquet:"label"`
	Task  string `parquet:"task"`
}

type pqOpenRLHF struct {
	Input string   `parquet:"input"`
	Value []string `parquet:"value,list"`
}

type pqOpenRLHFSoft struct {
	Input string    `parquet:"input"`
	Value []float64 `parquet:"value,list"`
}

type pqMessage struct {
	Role    string `parquet:"role"`
	Content string `parquet:"content"`
}

type pqChat struct {
	Messages []pqMessage `parquet:"messages,list"`
}

// rowWriter writes exported rows; Close finishes the output (for Parquet,
// the footer) without closing the file beneath.
type rowWriter interface {
	Write(row any) error
	Close() error
}

// parquetWriter writes rows of Go type T, converted from exported rows.
type parquetWriter[T any] struct {
	w      *parquet.GenericWriter[T]
	conv   func(row any) (T, error)
	one    []T
	closed bool
}

func (p *parquetWriter[T]) Write(row any) error {
	v, err := p.conv(row)
	if err != nil {
		return err
	}
	p.one[0] = v
	if _, err := p.w.Write(p.one); err != nil {
		return fmt.Errorf("writing parquet: %w", err)
	}
	return nil
}

func (p *parquetWriter[T]) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("writing parquet: %w", err)
	}
	return nil
}

func newParquetOf[T any](w io.Writer, conv func(row any) (T, error)) rowWriter {
	return &parquetWriter[T]{
		w: parquet.NewGenericWriter[T](w,
			parquet.Compression(&parquet.Zstd),
			parquet.DataPageVersion(1),
			parquet.MaxRowsPerRowGroup(parquetRowGroup),
			parquet.CreatedBy("shepherd", "", ""),
		),
		conv: conv,
		one:  make([]T, 1),
	}
}

// rowAs asserts the type of an exported row.
func rowAs[R any](row any) (R, error) {
	r, ok := row.(R)
	if !ok {
		return r, fmt.Errorf("internal error: parquet writer got a %T row", row)
	}
	return r, nil
}

// newParquetWriter returns a writer of format f's rows (as labeler.Export
// makes them with opt) to w.
func newParquetWriter(w io.Writer, f labeler.Format, opt labeler.ExportOptions) (rowWriter, error) {
	switch {
	case f == labeler.FormatTRL && opt.Soft:
		return newParquetOf(w, func(row any) (pqTRLSoft, error) {
			r, err := rowAs[labeler.TRLRow](row)
			soft := make([]*float64, len(r.SoftLabels))
			for i := range r.SoftLabels {
				soft[i] = &r.SoftLabels[i]
			}
			return pqTRLSoft{r.Prompt, r.Completions, r.Labels, soft}, err
		}), nil
	case f == labeler.FormatTRL:
		return newParquetOf(w, func(row any) (pqTRL, error) {
			r, err := rowAs[labeler.TRLRow](row)
			return pqTRL{r.Prompt, r.Completions, r.Labels}, err
		}), nil
	case f == labeler.FormatMathShepherd && opt.Task != "":
		return newParquetOf(w, func(row any) (pqMathShepherdTask, error) {
			r, err := rowAs[labeler.MathShepherdRow](row)
			return pqMathShepherdTask{r.Input, r.Label, r.Task}, err
		}), nil
	case f == labeler.FormatMathShepherd:
		return newParquetOf(w, func(row any) (pqMathShepherd, error) {
			r, err := rowAs[labeler.MathShepherdRow](row)
			return pqMathShepherd{r.Input, r.Label}, err
		}), nil
	case f == labeler.FormatOpenRLHF && opt.Soft:
		return newParquetOf(w, func(row any) (pqOpenRLHFSoft, error) {
			r, err := rowAs[labeler.OpenRLHFRow](row)
			return pqOpenRLHFSoft{r.Input, r.SoftValue}, err
		}), nil
	case f == labeler.FormatOpenRLHF:
		return newParquetOf(w, func(row any) (pqOpenRLHF, error) {
			r, err := rowAs[labeler.OpenRLHFRow](row)
			return pqOpenRLHF{r.Input, r.Value}, err
		}), nil
	case f == labeler.FormatChat:
		return newParquetOf(w, func(row any) (pqChat, error) {
			r, err := rowAs[labeler.ChatRow](row)
			msgs := make([]pqMessage, len(r.Messages))
			for i, m := range r.Messages {
				msgs[i] = pqMessage(m)
			}
			return pqChat{msgs}, err
		}), nil
	}
	return nil, fmt.Errorf("only the trl, math-shepherd, openrlhf and chat formats can be written as Parquet, not %s", f)
}
