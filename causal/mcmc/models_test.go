package mcmc

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// gaussian is the density N(mean, cov), held by its precision.
type gaussian struct {
	mean []float64
	cov  *mat.SymDense
	prec []float64 // row-major d×d
}

func newGaussian(mean, sd []float64, corr func(i, j int) float64) *gaussian {
	d := len(mean)
	cov := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			cov.SetSym(i, j, sd[i]*sd[j]*corr(i, j))
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(cov) {
		panic("covariance is not positive definite")
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		panic(err)
	}
	prec := make([]float64, d*d)
	for i := range d {
		for j := range d {
			prec[i*d+j] = inv.At(i, j)
		}
	}
	return &gaussian{mean: mean, cov: cov, prec: prec}
}

func (g *gaussian) Dim() int { return len(g.mean) }

func (g *gaussian) LogDensityGrad(q, grad []float64) float64 {
	d := len(g.mean)
	var lp float64
	for i := range d {
		var s float64
		row := g.prec[i*d : (i+1)*d]
		for j, pij := range row {
			s += pij * (q[j] - g.mean[j])
		}
		grad[i] = -s
		lp -= 0.5 * s * (q[i] - g.mean[i])
	}
	return lp
}

func (g *gaussian) sd(i int) float64 { return math.Sqrt(g.cov.At(i, i)) }

// betaBinomialLogit is the posterior of a Binomial success probability θ
// with a Beta(a, b) prior after k successes in n trials, on the logit scale
// x = log(θ/(1−θ)) with the Jacobian θ(1−θ): the density of x is
// θ^(a+k)·(1−θ)^(b+n−k). θ is then Beta(a+k, b+n−k) exactly.
type betaBinomialLogit struct{ a, b, k, n float64 }

func (m betaBinomialLogit) Dim() int { return 1 }

func (m betaBinomialLogit) LogDensityGrad(q, grad []float64) float64 {
	x := q[0]
	// log θ = −log(1+e^−x), log(1−θ) = −log(1+e^x).
	logTheta := -softplus(-x)
	log1mTheta := -softplus(x)
	alpha, beta := m.a+m.k, m.b+m.n-m.k
	theta := 1 / (1 + math.Exp(-x))
	grad[0] = alpha*(1-theta) - beta*theta
	return alpha*logTheta + beta*log1mTheta
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// funnel is Neal's (2003) funnel in d dimensions: v ~ N(0, 3²),
// x_i | v ~ N(0, e^v), in the centered parameterization that makes HMC
// diverge in the neck.
type funnel struct{ d int }

func (f funnel) Dim() int { return f.d }

func (f funnel) LogDensityGrad(q, grad []float64) float64 {
	v := q[0]
	lp := -v * v / 18
	grad[0] = -v / 9
	ev := math.Exp(-v)
	for i := 1; i < f.d; i++ {
		x := q[i]
		lp += -0.5*x*x*ev - 0.5*v
		grad[0] += 0.5*x*x*ev - 0.5
		grad[i] = -x * ev
	}
	return lp
}

// logGamma is a Gamma(α, 1) variable θ sampled as x = log θ, with the
// Jacobian: log π(x) = α·x − eˣ. It is skewed on both scales.
type logGamma struct{ alpha float64 }

func (m logGamma) Dim() int { return 1 }

func (m logGamma) LogDensityGrad(q, grad []float64) float64 {
	e := math.Exp(q[0])
	grad[0] = m.alpha - e
	return m.alpha*q[0] - e
}
