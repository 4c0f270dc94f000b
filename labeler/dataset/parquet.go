package dataset

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
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
// and row groups of DefaultParquetRowGroup rows unless told otherwise, so
// memory stays bounded however many rows are written.

// DefaultParquetRowGroup is the number of rows of a Parquet row group.
const DefaultParquetRowGroup = 8192

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

// RowWriter writes exported rows; Close finishes the output (for Parquet,
// the footer) without closing the file beneath.
type RowWriter interface {
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

// parquetOf writes exported rows of type R as Parquet rows of type T made
// by conv.
func parquetOf[R, T any](w io.Writer, rowGroup int64, conv func(R) T) RowWriter {
	return &parquetWriter[T]{
		w: parquet.NewGenericWriter[T](w,
			parquet.Compression(&parquet.Zstd),
			parquet.DataPageVersion(1),
			parquet.MaxRowsPerRowGroup(rowGroup),
			parquet.CreatedBy("shepherd", "", ""),
		),
		conv: func(row any) (T, error) {
			r, ok := row.(R)
			if !ok {
				var zero T
				return zero, fmt.Errorf("internal error: parquet writer got a %T row", row)
			}
			return conv(r), nil
		},
		one: make([]T, 1),
	}
}

// CheckParquet reports whether format f can be written as Parquet: every
// trainer format can, label records cannot.
func CheckParquet(f Format) error {
	if f == FormatRecord || !slices.Contains(Formats, f) {
		return fmt.Errorf("only the %s formats can be written as Parquet, not %s", strings.Replace(orList(Formats[1:]), " or ", " and ", 1), f)
	}
	return nil
}

// NewParquetWriter returns a writer of format f's rows (as Export makes
// them with opt) to w, in row groups of rowGroup rows (0 is
// DefaultParquetRowGroup).
func NewParquetWriter(w io.Writer, f Format, opt ExportOptions, rowGroup int64) (RowWriter, error) {
	if err := CheckParquet(f); err != nil {
		return nil, err
	}
	if rowGroup <= 0 {
		rowGroup = DefaultParquetRowGroup
	}
	switch {
	case f == FormatTRL && opt.Soft:
		return parquetOf(w, rowGroup, func(r TRLRow) pqTRLSoft {
			soft := make([]*float64, len(r.SoftLabels))
			for i := range r.SoftLabels {
				soft[i] = &r.SoftLabels[i]
			}
			return pqTRLSoft{r.Prompt, r.Completions, r.Labels, soft}
		}), nil
	case f == FormatTRL:
		return parquetOf(w, rowGroup, func(r TRLRow) pqTRL { return pqTRL{r.Prompt, r.Completions, r.Labels} }), nil
	case f == FormatMathShepherd && opt.Task != "":
		return parquetOf(w, rowGroup, func(r MathShepherdRow) pqMathShepherdTask { return pqMathShepherdTask(r) }), nil
	case f == FormatMathShepherd:
		return parquetOf(w, rowGroup, func(r MathShepherdRow) pqMathShepherd { return pqMathShepherd{r.Input, r.Label} }), nil
	case f == FormatOpenRLHF && opt.Soft:
		return parquetOf(w, rowGroup, func(r OpenRLHFRow) pqOpenRLHFSoft { return pqOpenRLHFSoft{r.Input, r.SoftValue} }), nil
	case f == FormatOpenRLHF:
		return parquetOf(w, rowGroup, func(r OpenRLHFRow) pqOpenRLHF { return pqOpenRLHF{r.Input, r.Value} }), nil
	case f == FormatChat:
		return parquetOf(w, rowGroup, func(r ChatRow) pqChat {
			msgs := make([]pqMessage, len(r.Messages))
			for i, m := range r.Messages {
				msgs[i] = pqMessage(m)
			}
			return pqChat{msgs}
		}), nil
	}
	return nil, fmt.Errorf("internal error: no Parquet layout for the %s format", f)
}
