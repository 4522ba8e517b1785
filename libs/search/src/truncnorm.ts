/**
 * Normal and truncated-normal numerics for the Parzen estimators (JavaScript has no erf).
 * Follows optuna/samplers/_tpe/_truncnorm.py: masses are computed in log space and in the
 * left tail, where they keep their relative precision.
 */

const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Complementary error function, from Sun's fdlibm s_erf.c (the same source as Optuna's _erf.py);
 * accurate to a few ulp, except ~1e-13 relative for x > 1.25 where fdlibm's low-word trick is skipped.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 0.84375) {
    const z = x * x;
    const r = 1.28379167095512558561e-1 + z * (-3.2504210724700149937e-1 + z * (-2.84817495755985104766e-2 + z * (-5.77027029648944159157e-3 + z * -2.37630166566501626084e-5)));
    const s = 1 + z * (3.97917223959155352819e-1 + z * (6.50222499887672944485e-2 + z * (5.08130628187576562776e-3 + z * (1.32494738004321644526e-4 + z * -3.9602282787753681232e-6))));
    return 1 - (x + x * (r / s));
  }
  if (x < 1.25) {
    const s = x - 1;
    const p =
      -2.36211856075265944077e-3 +
      s *
        (4.14856118683748331666e-1 +
          s * (-3.72207876035701323847e-1 + s * (3.18346619901161753674e-1 + s * (-1.10894694282396677476e-1 + s * (3.54783043256182359371e-2 + s * -2.166375594868790843e-3)))));
    const q =
      1 +
      s *
        (1.06420880400844228286e-1 +
          s * (5.40397917702171048937e-1 + s * (7.18286544141962662868e-2 + s * (1.26171219808761642112e-1 + s * (1.36370839120290507362e-2 + s * 1.1984499846799107417e-2)))));
    return 1 - 8.45062911510467529297e-1 - p / q;
  }
  if (x >= 28) return 0;
  const s = 1 / (x * x);
  let r: number;
  let q: number;
  if (x < 1 / 0.35) {
    r =
      -9.86494403484714822705e-3 +
      s *
        (-6.93858572707181764372e-1 +
          s *
            (-1.05586262253232909814e1 +
              s * (-6.23753324503260060396e1 + s * (-1.62396669462573470355e2 + s * (-1.84605092906711035994e2 + s * (-8.12874355063065934246e1 + s * -9.81432934416914548592))))));
    q =
      1 +
      s *
        (1.96512716674392571292e1 +
          s *
            (1.376577541435190426e2 +
              s *
                (4.34565877475229228821e2 +
                  s * (6.45387271733267880336e2 + s * (4.29008140027567833386e2 + s * (1.08635005541779435134e2 + s * (6.57024977031928170135 + s * -6.04244152148580987438e-2)))))));
  } else {
    r =
      -9.86494292470009928597e-3 +
      s *
        (-7.99283237680523006574e-1 +
          s * (-1.77579549177547519889e1 + s * (-1.60636384855821916062e2 + s * (-6.37566443368389627722e2 + s * (-1.02509513161107724954e3 + s * -4.83519191608651397019e2)))));
    q =
      1 +
      s *
        (3.03380607434824582924e1 +
          s *
            (3.25792512996573918826e2 +
              s * (1.53672958608443695994e3 + s * (3.19985821950859553908e3 + s * (2.55305040643316442583e3 + s * (4.74528541206955367215e2 + s * -2.24409524465858183362e1))))));
  }
  return Math.exp(-x * x - 0.5625 + r / q) / x;
}

/** Standard normal CDF Φ. */
export function ndtr(a: number): number {
  return a < 0 ? 0.5 * erfc(-a / SQRT2) : 1 - 0.5 * erfc(a / SQRT2);
}

/** log Φ(a); an asymptotic series below -20 where Φ underflows (as Optuna's _log_ndtr_single). */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtr(-a);
  if (a > -20) return Math.log(ndtr(a));
  let total = 1;
  let last = 0;
  let term = 1;
  for (let i = 1; Math.abs(last - total) > Number.EPSILON; i++) {
    last = total;
    term *= -(2 * i - 1) / (a * a);
    total += term;
  }
  return -0.5 * a * a - Math.log(-a) - LOG_SQRT_2PI + Math.log(total);
}

export function normLogPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/** log(exp(p) - exp(q)) for p ≥ q. */
function logDiff(p: number, q: number): number {
  return q === -Infinity ? p : p + Math.log1p(-Math.exp(q - p));
}

/** log(Φ(b) - Φ(a)) for a ≤ b, stable in both tails. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logGaussMass(-b, -a);
  return Math.log1p(-ndtr(a) - ndtr(-b));
}

/** Φ⁻¹(p): Acklam's rational approximation plus one Halley step against erfc. */
export function ndtri(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const lowTail = 0.02425;
  let x: number;
  if (p < lowTail || p > 1 - lowTail) {
    const q = Math.sqrt(-2 * Math.log(p < lowTail ? p : 1 - p));
    const v =
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1);
    x = p < lowTail ? v : -v;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r + 1.38357751867269e2) * r - 3.066479806614716e1) * r + 2.506628277459239) * q) /
      (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r + 6.680131188771972e1) * r - 1.328068155288572e1) * r + 1);
  }
  if (p > 1e-300) {
    const e = 0.5 * erfc(-x / SQRT2) - p;
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    x -= u / (1 + (x * u) / 2);
  }
  return x;
}

/**
 * Inverse-CDF draw from the standard normal truncated to [a, b], given a uniform u. The side of
 * the median that holds the draw is inverted from its own tail, so neither side loses precision.
 */
export function truncnormPpf(u: number, a: number, b: number): number {
  if (a >= 0) return -truncnormPpf(1 - u, -b, -a);
  const pa = ndtr(a);
  const pb = ndtr(b);
  const p = pa + u * (pb - pa);
  const x = p < 0.5 ? ndtri(p) : -ndtri(ndtr(-b) + (1 - u) * (ndtr(-a) - ndtr(-b)));
  return Math.min(Math.max(x, a), b);
}
