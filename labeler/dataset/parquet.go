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

func newParquetOf[T any](w io.Writer, rowGroup int64, conv func(row any) (T, error)) RowWriter {
	return &parquetWriter[T]{
		w: parquet.NewGenericWriter[T](w,
			parquet.Compression(&parquet.Zstd),
			parquet.DataPageVersion(1),
			parquet.MaxRowsPerRowGroup(rowGroup),
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
		return newParquetOf(w, rowGroup, func(row any) (pqTRLSoft, error) {
			r, err := rowAs[TRLRow](row)
			soft := make([]*float64, len(r.SoftLabels))
			for i := range r.SoftLabels {
				soft[i] = &r.SoftLabels[i]
			}
			return pqTRLSoft{r.Prompt, r.Completions, r.Labels, soft}, err
		}), nil
	case f == FormatTRL:
		return newParquetOf(w, rowGroup, func(row any) (pqTRL, error) {
			r, err := rowAs[TRLRow](row)
			return pqTRL{r.Prompt, r.Completions, r.Labels}, err
		}), nil
	case f == FormatMathShepherd && opt.Task != "":
		return newParquetOf(w, rowGroup, func(row any) (pqMathShepherdTask, error) {
			r, err := rowAs[MathShepherdRow](row)
			return pqMathShepherdTask(r), err
		}), nil
	case f == FormatMathShepherd:
		return newParquetOf(w, rowGroup, func(row any) (pqMathShepherd, error) {
			r, err := rowAs[MathShepherdRow](row)
			return pqMathShepherd{r.Input, r.Label}, err
		}), nil
	case f == FormatOpenRLHF && opt.Soft:
		return newParquetOf(w, rowGroup, func(row any) (pqOpenRLHFSoft, error) {
			r, err := rowAs[OpenRLHFRow](row)
			return pqOpenRLHFSoft{r.Input, r.SoftValue}, err
		}), nil
	case f == FormatOpenRLHF:
		return newParquetOf(w, rowGroup, func(row any) (pqOpenRLHF, error) {
			r, err := rowAs[OpenRLHFRow](row)
			return pqOpenRLHF{r.Input, r.Value}, err
		}), nil
	case f == FormatChat:
		return newParquetOf(w, rowGroup, func(row any) (pqChat, error) {
			r, err := rowAs[ChatRow](row)
			msgs := make([]pqMessage, len(r.Messages))
			for i, m := range r.Messages {
				msgs[i] = pqMessage(m)
			}
			return pqChat{msgs}, err
		}), nil
	}
	return nil, fmt.Errorf("internal error: no Parquet layout for the %s format", f)
}
