package main

import (
	"math/bits"
	"time"
)

// Hist is a log-linear latency histogram in the spirit of HdrHistogram:
// values (nanoseconds) are grouped by power of two, and each power of two is
// split into histSub linear sub-buckets, so any recorded value is reported
// within 1/histSub (< 0.8%) of its true value. Fixed size, no allocation per
// record. Not safe for concurrent use: give each goroutine its own and Merge.
type Hist struct {
	counts [64 * histSub]uint64
	n      uint64
	max    int64
	sum    float64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
)

func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	e := bits.Len64(u) - histSubBits // >= 1
	return e*histSub + int(u>>uint(e-1)) - histSub
}

// histValue returns the highest value that maps to bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i / histSub
	m := uint64(i%histSub) + histSub
	return int64(((m + 1) << uint(e-1)) - 1)
}

// Record adds one observation.
func (h *Hist) Record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
	if v > h.max {
		h.max = v
	}
}

// Merge adds o into h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// Count returns the number of observations.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the value at quantile q (0..1).
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(q*float64(h.n)) + 1
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > h.max {
				v = h.max
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// Mean returns the mean.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
