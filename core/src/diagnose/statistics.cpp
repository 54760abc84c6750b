// SPDX-License-Identifier: MIT
// Student's t through the regularized incomplete beta function (the continued fraction of
// Numerical Recipes' betacf, evaluated by the modified Lentz method).
#include "replicascope/diagnose/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace replicascope::diagnose {

double RunningMoments::sd() const {
  return n > 1 ? std::sqrt(std::max(squares, 0.0) / static_cast<double>(n - 1)) : 0;
}

namespace {

// The continued fraction of I_x(a, b), which converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300, kEpsilon = 1e-15;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    d = std::abs(d) < kTiny ? 1 / kTiny : 1 / d;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    d = std::abs(d) < kTiny ? 1 / kTiny : 1 / d;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1) < kEpsilon) break;
  }
  return h;
}

// P(T > t) for t >= 0: P(|T| > t) = I_{df / (df + t^2)}(df / 2, 1 / 2), halved. Kept apart
// from the cdf so that tails far below 1e-16 stay exact.
double upper_tail(double t, double df) {
  if (std::isinf(t)) return 0;
  return 0.5 * regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

}  // namespace

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0 || x == 1) return x;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  // The fraction converges on one side of the mean; the symmetry I_x(a, b) = 1 - I_1-x(b, a)
  // gives the other.
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double tail = upper_tail(std::abs(t), df);
  return t > 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) {
    throw std::invalid_argument("student_t_quantile: expected 0 < p < 1 and df > 0, got p " +
                                std::to_string(p) + ", df " + std::to_string(df));
  }
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  // Bisection on the upper tail, 1 - p, which the cdf near 1 would round.
  const double tail = 1 - p;
  double low = 0, high = 1;
  while (upper_tail(high, df) > tail && high < 1e300) high *= 2;
  for (int i = 0; i < 400 && high - low > 1e-13 * std::max(1.0, high); ++i) {
    const double middle = 0.5 * (low + high);
    (upper_tail(middle, df) > tail ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

}  // namespace replicascope::diagnose
