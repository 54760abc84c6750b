// SPDX-License-Identifier: MIT
// The statistics the rules' thresholds come from: Student's t distribution, through the
// regularized incomplete beta function; and the running moments the rules keep of a value.
#pragma once

#include <cstdint>

namespace replicascope::diagnose {

// A value's count, mean and sum of squared deviations from the mean, one value at a time
// (Welford's update: no sum of squares to cancel against the square of a sum).
struct RunningMoments {
  int64_t n = 0;
  double mean = 0, squares = 0;
  void add(double x) {
    ++n;
    const double delta = x - mean;
    mean += delta / static_cast<double>(n);
    squares += delta * (x - mean);
  }
  // The sample (unbiased) standard deviation; 0 below 2 values.
  double sd() const;
};

// I_x(a, b) for a, b > 0 and x in [0, 1] (a continued fraction, to about 1e-14).
double regularized_incomplete_beta(double a, double b, double x);
// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
double student_t_cdf(double t, double df);
// The t with P(T <= t) = p, for p in (0, 1) (bisection on student_t_cdf); throws
// std::invalid_argument for p outside (0, 1) or df <= 0.
double student_t_quantile(double p, double df);

}  // namespace replicascope::diagnose
