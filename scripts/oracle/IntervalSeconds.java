import java.math.BigDecimal;
import java.math.RoundingMode;
// Prints every (wholeSeconds, microSeconds) in [0,60) x [0,1e6) whose Debezium interval-string seconds
// (BigDecimal.valueOf(whole + micro/1e6), truncated to 6 places, stripped, plain) differ from the exact
// decimal "whole.micro" with trailing zeros stripped.
public class IntervalSeconds {
  static String dbz(double seconds) {
    BigDecimal s = BigDecimal.valueOf(seconds);
    if (s.scale() > 6) s = s.setScale(6, RoundingMode.DOWN);
    return s.stripTrailingZeros().toPlainString();
  }
  public static void main(String[] a) {
    long count = 0;
    for (int w = 0; w < 60; w++) {
      for (int m = 0; m < 1_000_000; m++) {
        String exact = new BigDecimal(w).add(BigDecimal.valueOf(m, 6)).stripTrailingZeros().toPlainString();
        String got = dbz(w + (double) m / 1_000_000);
        if (!exact.equals(got)) { System.out.println(w + " " + m + " " + got); count++; }
        String gotNeg = dbz(-w + (double) -m / 1_000_000);
        String exactNeg = (w == 0 && m == 0) ? "0" : "-" + exact;
        if (!exactNeg.equals(gotNeg)) { System.out.println("-" + w + " -" + m + " " + gotNeg); count++; }
      }
    }
    System.err.println("mismatches: " + count + " java " + System.getProperty("java.version"));
  }
}
