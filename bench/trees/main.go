// Command trees benchmarks causal/gbdt against XGBoost's hist trees on the
// same data. It has two subcommands, run in turn by bench/trees.sh:
//
//	trees gen   -dir D   writes D/{hillstrom,synth}_{train,test}.csv
//	trees train -dir D   trains our trees on them, prints train time and
//	                     held-out AUC, and writes D/ours_<name>.json and
//	                     D/ours_<name>_pred.txt for bench/xgb_trees.py
//
// CSV files have a header; the first column is the 0/1 label, the rest
// are features, with "nan" for a missing value.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/preflight-hq/preflight/causal"
	"github.com/preflight-hq/preflight/causal/gbdt"
)

// Benchmark settings shared with bench/xgb_trees.py.
const (
	rounds       = 100
	learningRate = 0.1
	numLeaves    = 31
	maxBin       = 255
	lambdaL2     = 1.0
	minHessian   = 1e-3
	threads      = 2
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: trees gen|train -dir DIR")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the CSV files and results")
	hillstrom := fs.String("hillstrom", "data/hillstrom.csv", "Hillstrom e-mail CSV (gen)")
	only := fs.String("only", "", "train only this dataset: hillstrom or synth (train)")
	repeat := fs.Int("repeat", 1, "train each dataset this many times, reporting each run (train)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of training to this file (train)")
	workers := fs.Int("workers", threads, "training goroutines (train)")
	_ = fs.Parse(os.Args[2:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "trees: -dir is required")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = generate(*dir, *hillstrom)
	case "train":
		err = trainAll(*dir, *only, *repeat, *workers, *cpuProfile)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trees:", err)
		os.Exit(1)
	}
}

// table is a labelled dataset.
type table struct {
	header []string
	y      []float64
	x      causal.Matrix
}

func generate(dir, hillstromPath string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	train, test, err := hillstromTables(hillstromPath)
	if err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(dir, "hillstrom_train.csv"), train); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(dir, "hillstrom_test.csv"), test); err != nil {
		return err
	}
	train, test = synthTables(1_000_000, 200_000)
	if err := writeCSV(filepath.Join(dir, "synth_train.csv"), train); err != nil {
		return err
	}
	return writeCSV(filepath.Join(dir, "synth_test.csv"), test)
}

// hillstromTables predicts visit from the eight pre-treatment columns,
// categorical columns as integer codes. It holds out 12 800 shuffled rows
// as the test set and draws the 64 000 training rows with replacement
// from the rest.
func hillstromTables(path string) (train, test table, err error) {
	f, err := os.Open(path)
	if err != nil {
		return train, test, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	head, err := r.Read()
	if err != nil {
		return train, test, fmt.Errorf("cannot read %s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	feats := []string{"recency", "history", "mens", "womens", "zip_code", "newbie", "channel", "segment"}
	codes := map[string]map[string]float64{
		"zip_code": {"Surburban": 0, "Rural": 1, "Urban": 2},
		"channel":  {"Phone": 0, "Web": 1, "Multichannel": 2},
		"segment":  {"Mens E-Mail": 0, "Womens E-Mail": 1, "No E-Mail": 2},
	}
	var rows [][]float64 // label first
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return train, test, fmt.Errorf("cannot read %s: %w", path, err)
		}
		row := make([]float64, 0, len(feats)+1)
		v, err := strconv.ParseFloat(rec[col["visit"]], 64)
		if err != nil {
			return train, test, fmt.Errorf("bad visit %q: %w", rec[col["visit"]], err)
		}
		row = append(row, v)
		for _, name := range feats {
			s := rec[col[name]]
			if c, ok := codes[name]; ok {
				code, ok := c[s]
				if !ok {
					return train, test, fmt.Errorf("unknown %s %q", name, s)
				}
				row = append(row, code)
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return train, test, fmt.Errorf("bad %s %q: %w", name, s, err)
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	rng := rand.New(rand.NewPCG(2026, 1))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	const nTest, nTrain = 12_800, 64_000
	testRows, pool := rows[:nTest], rows[nTest:]
	trainRows := make([][]float64, nTrain)
	for i := range trainRows {
		trainRows[i] = pool[rng.IntN(len(pool))]
	}
	header := append([]string{"visit"}, feats...)
	return toTable(header, trainRows), toTable(header, testRows), nil
}

func toTable(header []string, rows [][]float64) table {
	p := len(header) - 1
	t := table{header: header, y: make([]float64, len(rows)), x: causal.Matrix{Rows: len(rows), Cols: p, Data: make([]float64, len(rows)*p)}}
	for i, r := range rows {
		t.y[i] = r[0]
		copy(t.x.Data[i*p:(i+1)*p], r[1:])
	}
	return t
}

// synthTables draws a binary task with 20 features: ten Gaussian, four
// uniform with 5% missing, four integer codes 0..9 and two binary; the
// log-odds mix smooth, interaction, threshold and missingness effects.
func synthTables(nTrain, nTest int) (train, test table) {
	const p = 20
	rng := rand.New(rand.NewPCG(7, 11))
	header := []string{"y"}
	for j := range p {
		header = append(header, fmt.Sprintf("x%d", j))
	}
	draw := func(n int) table {
		t := table{header: header, y: make([]float64, n), x: causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}}
		for i := range n {
			r := t.x.Data[i*p : (i+1)*p]
			for j := 0; j < 10; j++ {
				r[j] = math.Round(rng.NormFloat64()*1e4) / 1e4
			}
			for j := 10; j < 14; j++ {
				r[j] = math.Round(rng.Float64()*1e4) / 1e4
				if rng.Float64() < 0.05 {
					r[j] = math.NaN()
				}
			}
			for j := 14; j < 18; j++ {
				r[j] = float64(rng.IntN(10))
			}
			for j := 18; j < 20; j++ {
				r[j] = float64(rng.IntN(2))
			}
			x10 := r[10]
			if math.IsNaN(x10) {
				x10 = -1
			}
			f := 0.8*math.Sin(2*r[0]) + 0.5*r[1]*r[2] - 0.4*math.Abs(r[3]) + 0.3*r[4] +
				0.7*x10 + 0.6*float64(int(r[14])%3) - 0.5*r[18]*r[5] - 0.8
			if r[15] >= 7 {
				f += 0.5
			}
			if rng.Float64() < 1/(1+math.Exp(-f)) {
				t.y[i] = 1
			}
		}
		return t
	}
	return draw(nTrain), draw(nTest)
}

func writeCSV(path string, t table) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(strings.Join(t.header, ",") + "\n")
	buf := make([]byte, 0, 512)
	for i := range t.x.Rows {
		buf = strconv.AppendFloat(buf[:0], t.y[i], 'g', -1, 64)
		for _, v := range t.x.Row(i) {
			buf = append(buf, ',')
			if math.IsNaN(v) {
				buf = append(buf, "nan"...)
			} else {
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			}
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readCSV(path string) (table, error) {
	f, err := os.Open(path)
	if err != nil {
		return table{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return table{}, fmt.Errorf("%s: empty", path)
	}
	t := table{header: strings.Split(sc.Text(), ",")}
	p := len(t.header) - 1
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if len(fields) != p+1 {
			return table{}, fmt.Errorf("%s: row with %d fields, want %d", path, len(fields), p+1)
		}
		for k, s := range fields {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return table{}, fmt.Errorf("%s: %w", path, err)
			}
			if k == 0 {
				t.y = append(t.y, v)
			} else {
				t.x.Data = append(t.x.Data, v)
			}
		}
	}
	t.x.Rows, t.x.Cols = len(t.y), p
	return t, sc.Err()
}

// result is what bench/xgb_trees.py reads back.
type result struct {
	Name       string  `json:"name"`
	TrainRows  int     `json:"train_rows"`
	Features   int     `json:"features"`
	TrainSecs  float64 `json:"train_seconds"`
	CPUSecs    float64 `json:"cpu_seconds"`
	AUC        float64 `json:"auc"`
	Trees      int     `json:"trees"`
	GoMaxProcs int     `json:"gomaxprocs"`
}

func trainAll(dir, only string, repeat, workers int, cpuProfile string) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, name := range []string{"hillstrom", "synth"} {
		if only != "" && name != only {
			continue
		}
		train, err := readCSV(filepath.Join(dir, name+"_train.csv"))
		if err != nil {
			return err
		}
		test, err := readCSV(filepath.Join(dir, name+"_test.csv"))
		if err != nil {
			return err
		}
		cfg := gbdt.DefaultConfig(gbdt.Logistic)
		cfg.NumIterations = rounds
		cfg.LearningRate = learningRate
		cfg.NumLeaves = numLeaves
		cfg.MaxDepth = -1
		cfg.MaxBin = maxBin
		cfg.LambdaL2 = lambdaL2
		cfg.MinSumHessianInLeaf = minHessian
		cfg.Workers = workers
		var (
			m         *gbdt.Model
			secs, cpu float64
		)
		for r := range repeat {
			runtime.GC()
			cpu0 := cpuSeconds()
			start := time.Now()
			m, err = gbdt.Train(cfg, train.x, train.y, nil, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			secs = time.Since(start).Seconds()
			cpu = cpuSeconds() - cpu0
			if repeat > 1 {
				fmt.Printf("ours     %-10s run %d: train %7.3fs wall %7.3fs CPU\n", name, r+1, secs, cpu)
			}
		}
		pred := m.Predict(test.x)
		res := result{Name: name, TrainRows: train.x.Rows, Features: train.x.Cols, TrainSecs: secs, CPUSecs: cpu,
			AUC: causal.ROCAUC(test.y, pred), Trees: m.BestIteration(), GoMaxProcs: runtime.GOMAXPROCS(0)}
		fmt.Printf("ours     %-10s rows=%-8d train %7.3fs wall %7.3fs CPU  AUC %.4f\n", name, res.TrainRows, secs, cpu, res.AUC)
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "ours_"+name+".json"), b, 0o644); err != nil {
			return err
		}
		var sb strings.Builder
		for _, p := range pred {
			sb.WriteString(strconv.FormatFloat(p, 'g', -1, 64))
			sb.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, "ours_"+name+"_pred.txt"), []byte(sb.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cpuSeconds returns the user + system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
