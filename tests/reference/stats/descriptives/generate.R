# Reference values for ssctrial.stats.describe_continuous / describe_categorical / compute_wilson_ci.
# Run from the repository root: Rscript tests/reference/stats/descriptives/generate.R
library(jsonlite)
d <- read.csv("tests/reference/stats/data/basics_like.csv")
rows <- list()
for (arm in sort(unique(d$ARM))) for (st in sort(unique(d$STRATUM))) {
  y <- d$CHGMISS[d$ARM == arm & d$STRATUM == st]
  y <- y[!is.na(y)]
  ci <- t.test(y)$conf.int
  q <- quantile(y, c(0.25, 0.5, 0.75), type = 7)
  rows[[length(rows) + 1]] <- data.frame(ARM = arm, STRATUM = st, n = length(y), mean = mean(y), sd = sd(y),
    se = sd(y) / sqrt(length(y)), median = median(y), q1 = q[[1]], q3 = q[[3]], min = min(y), max = max(y),
    lower = ci[1], upper = ci[2])
}
cont <- do.call(rbind, rows)
write.csv(cont, "tests/reference/stats/descriptives/continuous.csv", row.names = FALSE)
# Wilson score intervals: prop.test without continuity correction
cases <- expand.grid(x = c(0, 1, 3, 8, 15, 16), n = 16)
cases <- rbind(cases, data.frame(x = c(0, 1, 56, 48, 9, 5), n = c(10, 29, 70, 80, 10, 56)))
w <- t(mapply(function(x, n) prop.test(x, n, correct = FALSE, conf.level = 0.95)$conf.int, cases$x, cases$n))
cases$lower <- w[, 1]; cases$upper <- w[, 2]
w90 <- t(mapply(function(x, n) prop.test(x, n, correct = FALSE, conf.level = 0.90)$conf.int, cases$x, cases$n))
cases$lower90 <- w90[, 1]; cases$upper90 <- w90[, 2]
write.csv(cases, "tests/reference/stats/descriptives/wilson.csv", row.names = FALSE)
writeLines(R.version.string, "tests/reference/stats/descriptives/R_VERSION.txt")
