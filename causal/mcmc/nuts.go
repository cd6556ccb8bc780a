package mcmc

import (
	"errors"
	"math"
	"math/rand/v2"
)

// maxDeltaH is the energy error beyond which a leapfrog step is declared
// divergent, as in Stan.
const maxDeltaH = 1000

// errInterrupted reports that the context was cancelled mid-transition.
var errInterrupted = errors.New("interrupted")

// phasePoint is a position in phase space with the log-density and its
// gradient at q.
type phasePoint struct {
	q, p, grad []float64
	logp       float64
}

func newPhasePoint(d int) phasePoint {
	buf := make([]float64, 3*d)
	return phasePoint{q: buf[:d:d], p: buf[d : 2*d : 2*d], grad: buf[2*d:]}
}

func (z *phasePoint) set(o *phasePoint) {
	copy(z.q, o.q)
	copy(z.p, o.p)
	copy(z.grad, o.grad)
	z.logp = o.logp
}

// subtreeScratch holds what the recursion at one depth keeps between its two
// half-subtrees; one per depth avoids allocation inside the tree.
type subtreeScratch struct {
	pInitEnd, psInitEnd, rhoInit    []float64
	pFinalBeg, psFinalBeg, rhoFinal []float64
	proposeFinal                    phasePoint
}

// transitionStats describes one NUTS transition.
type transitionStats struct {
	accept    float64 // mean of min(1, exp(H₀ − H)) over the new states
	depth     int     // tree depth reached
	leapfrogs int
	divergent bool
	energy    float64 // Hamiltonian at the selected state
}

// nuts is the state of one chain: the current point, the metric and step
// size, and preallocated buffers for the tree. It is not safe for concurrent
// use.
type nuts struct {
	model     Model
	rng       *rand.Rand
	invMetric []float64 // diagonal of M⁻¹
	eps       float64   // step size
	maxDepth  int
	done      <-chan struct{}

	z                 phasePoint // the chain's current state
	fwd, bck, propose phasePoint
	sample            phasePoint

	rho, rhoFwd, rhoBck                    []float64
	pFwdFwd, pFwdBck, pBckFwd, pBckBck     []float64
	psFwdFwd, psFwdBck, psBckFwd, psBckBck []float64
	scratch                                []subtreeScratch // index = depth ≥ 1

	// Per-transition accumulators.
	h0           float64
	leapfrogs    int
	sumMetroProb float64
	divergent    bool
	interrupted  bool
}

func newNUTS(m Model, rng *rand.Rand, maxDepth int, done <-chan struct{}) *nuts {
	d := m.Dim()
	vec := func() []float64 { return make([]float64, d) }
	s := &nuts{
		model: m, rng: rng, invMetric: vec(), eps: 1, maxDepth: maxDepth, done: done,
		z: newPhasePoint(d), fwd: newPhasePoint(d), bck: newPhasePoint(d),
		propose: newPhasePoint(d), sample: newPhasePoint(d),
		rho: vec(), rhoFwd: vec(), rhoBck: vec(),
		pFwdFwd: vec(), pFwdBck: vec(), pBckFwd: vec(), pBckBck: vec(),
		psFwdFwd: vec(), psFwdBck: vec(), psBckFwd: vec(), psBckBck: vec(),
		scratch: make([]subtreeScratch, maxDepth+1),
	}
	for i := range s.invMetric {
		s.invMetric[i] = 1
	}
	for k := 1; k <= maxDepth; k++ {
		s.scratch[k] = subtreeScratch{
			pInitEnd: vec(), psInitEnd: vec(), rhoInit: vec(),
			pFinalBeg: vec(), psFinalBeg: vec(), rhoFinal: vec(),
			proposeFinal: newPhasePoint(d),
		}
	}
	return s
}

// hamiltonian returns H = −log π(q) + ½·pᵀM⁻¹p, or +Inf when it is not a
// number.
func (s *nuts) hamiltonian(z *phasePoint) float64 {
	k := 0.0
	for i, pi := range z.p {
		k += pi * pi * s.invMetric[i]
	}
	h := -z.logp + 0.5*k
	if math.IsNaN(h) {
		return math.Inf(1)
	}
	return h
}

// sampleMomentum draws p ~ N(0, M).
func (s *nuts) sampleMomentum(z *phasePoint) {
	for i := range z.p {
		z.p[i] = s.rng.NormFloat64() / math.Sqrt(s.invMetric[i])
	}
}

// leapfrog advances z by one step of signed size eps:
// p ← p + (ε/2)∇log π(q); q ← q + ε·M⁻¹p; p ← p + (ε/2)∇log π(q).
func (s *nuts) leapfrog(z *phasePoint, eps float64) {
	half := 0.5 * eps
	for i, g := range z.grad {
		z.p[i] += half * g
	}
	for i, pi := range z.p {
		z.q[i] += eps * s.invMetric[i] * pi
	}
	z.logp = s.model.LogDensityGrad(z.q, z.grad)
	for i, g := range z.grad {
		z.p[i] += half * g
	}
}

// cancelled polls the done channel without blocking.
func (s *nuts) cancelled() bool {
	select {
	case <-s.done:
		s.interrupted = true
		return true
	default:
		return false
	}
}

// initStepSize finds a starting step size as Stan does: from the current
// step size, double (or halve) it until the acceptance probability
// exp(H₀ − H) of a single leapfrog step from the current position, with a
// fresh momentum, crosses 0.8.
func (s *nuts) initStepSize() error {
	if s.eps == 0 || s.eps > 1e7 || math.IsNaN(s.eps) {
		return nil
	}
	tmp := &s.propose
	if s.cancelled() {
		return errInterrupted
	}
	probe := func() float64 {
		tmp.set(&s.z)
		s.sampleMomentum(tmp)
		h0 := s.hamiltonian(tmp)
		s.leapfrog(tmp, s.eps)
		return h0 - s.hamiltonian(tmp)
	}
	logTarget := math.Log(0.8)
	dir := -1.0
	if probe() > logTarget {
		dir = 1
	}
	for {
		if s.cancelled() {
			return errInterrupted
		}
		dh := probe()
		if dir == 1 && !(dh > logTarget) || dir == -1 && !(dh < logTarget) {
			return nil
		}
		if dir == 1 {
			s.eps *= 2
		} else {
			s.eps /= 2
		}
		if s.eps > 1e7 {
			return errors.New("cannot find an initial step size: it grew past 1e7; the posterior may be improper")
		}
		if s.eps == 0 {
			return errors.New("cannot find an initial step size: it shrank to 0; the log-density or its gradient may be wrong")
		}
	}
}

// criterion is the generalized no-U-turn criterion of Betancourt (2017):
// the trajectory may continue while ρ·M⁻¹p⁻ > 0 and ρ·M⁻¹p⁺ > 0, where ρ is
// the sum of the momenta along it and M⁻¹p± are the velocities at its ends.
// rhoA + rhoB is ρ, passed in two parts to avoid forming the sum.
func criterion(psMinus, psPlus, rhoA, rhoB []float64) bool {
	var dm, dp float64
	for i := range rhoA {
		r := rhoA[i] + rhoB[i]
		dm += psMinus[i] * r
		dp += psPlus[i] * r
	}
	return dm > 0 && dp > 0
}

// logAddExp returns log(exp(a) + exp(b)) without overflow.
func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a > b {
		return a + math.Log1p(math.Exp(b-a))
	}
	return b + math.Log1p(math.Exp(a-b))
}

// transition performs one multinomial NUTS transition from s.z and leaves
// the selected state in s.z.
func (s *nuts) transition() (transitionStats, error) {
	s.sampleMomentum(&s.z)
	s.fwd.set(&s.z)
	s.bck.set(&s.z)
	s.sample.set(&s.z)
	copy(s.rho, s.z.p)
	for i, pi := range s.z.p {
		v := s.invMetric[i] * pi
		s.psFwdFwd[i], s.psFwdBck[i], s.psBckFwd[i], s.psBckBck[i] = v, v, v, v
	}
	copy(s.pFwdFwd, s.z.p)
	copy(s.pFwdBck, s.z.p)
	copy(s.pBckFwd, s.z.p)
	copy(s.pBckBck, s.z.p)

	s.h0 = s.hamiltonian(&s.z)
	s.leapfrogs, s.sumMetroProb, s.divergent = 0, 0, false
	logSumWeight := 0.0 // log of exp(H₀ − H₀)
	depth := 0
	for depth < s.maxDepth {
		clear(s.rhoFwd)
		clear(s.rhoBck)
		lswSub := math.Inf(-1)
		var valid bool
		if s.rng.Float64() > 0.5 {
			// Extend forward: the old trajectory becomes the backward part.
			copy(s.rhoBck, s.rho)
			copy(s.pBckFwd, s.pFwdFwd)
			copy(s.psBckFwd, s.psFwdFwd)
			valid = s.buildTree(depth, &s.fwd, &s.propose, s.psFwdBck, s.psFwdFwd, s.rhoFwd, s.pFwdBck, s.pFwdFwd, 1, &lswSub)
		} else {
			copy(s.rhoFwd, s.rho)
			copy(s.pFwdBck, s.pBckBck)
			copy(s.psFwdBck, s.psBckBck)
			valid = s.buildTree(depth, &s.bck, &s.propose, s.psBckFwd, s.psBckBck, s.rhoBck, s.pBckFwd, s.pBckBck, -1, &lswSub)
		}
		if s.interrupted {
			return transitionStats{}, errInterrupted
		}
		if !valid {
			break
		}
		depth++
		// Biased progressive sampling (Betancourt 2017, appendix A.3.2):
		// move to the new subtree with probability min(1, W_new/W_old).
		if lswSub > logSumWeight || s.rng.Float64() < math.Exp(lswSub-logSumWeight) {
			s.sample.set(&s.propose)
		}
		logSumWeight = logAddExp(logSumWeight, lswSub)

		for i := range s.rho {
			s.rho[i] = s.rhoBck[i] + s.rhoFwd[i]
		}
		persist := criterion(s.psBckBck, s.psFwdFwd, s.rhoBck, s.rhoFwd) &&
			// The joins: backward part plus the first state of the forward part,
			// and forward part plus the last state of the backward part.
			criterion(s.psBckBck, s.psFwdBck, s.rhoBck, s.pFwdBck) &&
			criterion(s.psBckFwd, s.psFwdFwd, s.rhoFwd, s.pBckFwd)
		if !persist {
			break
		}
	}
	s.z.set(&s.sample)
	return transitionStats{
		accept:    s.sumMetroProb / float64(s.leapfrogs),
		depth:     depth,
		leapfrogs: s.leapfrogs,
		divergent: s.divergent,
		energy:    s.hamiltonian(&s.z),
	}, nil
}

// buildTree extends the trajectory from its edge z by a subtree of 2^depth
// leapfrog steps in direction sign. It writes the subtree's sampled state
// into propose, the velocities and momenta at its beginning (next to the
// existing trajectory) and end into psBeg/psEnd and pBeg/pEnd, adds its
// momenta to rho and its log weight to *logSumWeight. It reports false when
// the subtree diverged or made a U-turn, in which case it must be discarded.
func (s *nuts) buildTree(depth int, z, propose *phasePoint, psBeg, psEnd, rho, pBeg, pEnd []float64, sign float64, logSumWeight *float64) bool {
	if depth == 0 {
		if s.cancelled() {
			return false
		}
		s.leapfrog(z, sign*s.eps)
		s.leapfrogs++
		h := s.hamiltonian(z)
		if h-s.h0 > maxDeltaH {
			s.divergent = true
		}
		*logSumWeight = logAddExp(*logSumWeight, s.h0-h)
		if s.h0-h > 0 {
			s.sumMetroProb++
		} else {
			s.sumMetroProb += math.Exp(s.h0 - h)
		}
		propose.set(z)
		for i, pi := range z.p {
			psBeg[i] = s.invMetric[i] * pi
			rho[i] += pi
		}
		copy(psEnd, psBeg)
		copy(pBeg, z.p)
		copy(pEnd, z.p)
		return !s.divergent
	}

	sc := &s.scratch[depth]
	lswInit := math.Inf(-1)
	clear(sc.rhoInit)
	if !s.buildTree(depth-1, z, propose, psBeg, sc.psInitEnd, sc.rhoInit, pBeg, sc.pInitEnd, sign, &lswInit) {
		return false
	}
	lswFinal := math.Inf(-1)
	clear(sc.rhoFinal)
	if !s.buildTree(depth-1, z, &sc.proposeFinal, sc.psFinalBeg, psEnd, sc.rhoFinal, sc.pFinalBeg, pEnd, sign, &lswFinal) {
		return false
	}

	// Uniform multinomial sampling within the subtree.
	lswSub := logAddExp(lswInit, lswFinal)
	*logSumWeight = logAddExp(*logSumWeight, lswSub)
	if s.rng.Float64() < math.Exp(lswFinal-lswSub) {
		propose.set(&sc.proposeFinal)
	}

	for i := range rho {
		rho[i] += sc.rhoInit[i] + sc.rhoFinal[i]
	}
	return criterion(psBeg, psEnd, sc.rhoInit, sc.rhoFinal) &&
		criterion(psBeg, sc.psFinalBeg, sc.rhoInit, sc.pFinalBeg) &&
		criterion(sc.psInitEnd, psEnd, sc.rhoFinal, sc.pInitEnd)
}
