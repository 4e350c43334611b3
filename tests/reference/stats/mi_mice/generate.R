# Cross-check of ssctrial.stats.mi_ancova's PMM engine against mice: the same MI-ANCOVA with
# mice's predictive mean matching, imputing within each arm, with many imputations (m = 500) so
# that Monte-Carlo error is small. Run from the repository root:
# Rscript tests/reference/stats/mi_mice/generate.R
library(jsonlite)
library(mice)
d <- read.csv("tests/reference/stats/data/basics_like.csv")
d$STRATUM <- factor(d$STRATUM)
m <- 500
completed <- vector("list", m)
for (arm in sort(unique(d$ARM))) {
  s <- d[d$ARM == arm, c("CHGMISS", "BASE", "STRATUM")]
  imp <- mice(s, m = m, method = c("pmm", "", ""), seed = 20250517, printFlag = FALSE, maxit = 1)
  for (i in seq_len(m)) {
    ci <- complete(imp, i)
    ci$ARM <- arm
    completed[[i]] <- rbind(completed[[i]], ci)
  }
}
fits <- lapply(completed, function(ci) {
  ci$ARM <- relevel(factor(ci$ARM), ref = "CTRL")
  lm(CHGMISS ~ ARM + BASE + STRATUM, data = ci)
})
pl <- summary(pool(as.mira(fits)), conf.int = TRUE)
keep <- pl$term %in% c("ARMBARI2", "ARMBARI4")
out <- list(m = m, term = as.character(pl$term[keep]), estimate = pl$estimate[keep],
            se = pl$std.error[keep], df = pl$df[keep],
            versions = list(R = R.version.string, mice = as.character(packageVersion("mice"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/stats/mi_mice/reference.json")
