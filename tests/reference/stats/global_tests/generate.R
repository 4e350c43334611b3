# Reference values for ssctrial.stats.one_way, contingency_tests, compare_to_control and adjust_pvalues.
# Run from the repository root: Rscript tests/reference/stats/global_tests/generate.R
library(jsonlite)
library(multcomp)
d <- read.csv("tests/reference/stats/data/basics_like.csv")
d$ARM <- factor(d$ARM, levels = c("CTRL", "BARI2", "BARI4"))
out <- list()
a <- anova(lm(CHG ~ ARM, data = d))
out$anova <- list(statistic = a$`F value`[1], df1 = a$Df[1], df2 = a$Df[2], p = a$`Pr(>F)`[1])
w <- oneway.test(CHG ~ ARM, data = d, var.equal = FALSE)
out$welch <- list(statistic = unname(w$statistic), df1 = unname(w$parameter[1]),
                  df2 = unname(w$parameter[2]), p = w$p.value)
k <- kruskal.test(CHG ~ ARM, data = d)
out$kruskal <- list(statistic = unname(k$statistic), df1 = unname(k$parameter), p = k$p.value)
# binary outcome by arm (k x 2), missing dropped
r <- d[!is.na(d$RESP), ]
tab <- table(r$ARM, r$RESP)
cs <- suppressWarnings(chisq.test(tab, correct = FALSE))
out$chisq <- list(statistic = unname(cs$statistic), df1 = unname(cs$parameter), p = cs$p.value)
out$ffh <- list(p = fisher.test(tab)$p.value)
# further k x 2 tables for the exact test (rows: events, totals)
tables <- list(list(x = c(2, 7, 12), n = c(16, 16, 16)),
               list(x = c(0, 3, 9), n = c(15, 17, 16)),
               list(x = c(5, 5, 6, 1), n = c(10, 12, 9, 11)),
               list(x = c(3, 1), n = c(4, 4)),
               list(x = c(10, 0), n = c(10, 20)))
out$ffh_tables <- lapply(tables, function(t) {
  m <- cbind(t$x, t$n - t$x)
  list(x = t$x, n = t$n, p = fisher.test(m)$p.value)
})
# larger tables (network algorithm in R, with a bigger workspace)
large <- list(list(x = c(20, 35, 41, 30), n = c(200, 200, 200, 200)),
              list(x = c(50, 80, 60), n = c(300, 300, 300)),
              list(x = c(1, 0, 4, 2, 7), n = c(60, 55, 62, 58, 61)))
out$ffh_large <- lapply(large, function(t) {
  list(x = t$x, n = t$n, p = fisher.test(cbind(t$x, t$n - t$x), workspace = 2e8)$p.value)
})
# pairwise vs control
fit <- aov(CHG ~ ARM, data = d)
set.seed(1)
g <- summary(glht(fit, linfct = mcp(ARM = "Dunnett")), test = adjusted("single-step"))
set.seed(1)
ci <- confint(glht(fit, linfct = mcp(ARM = "Dunnett")), level = 0.95)$confint
out$dunnett <- list(contrast = names(g$test$coefficients), estimate = unname(g$test$coefficients),
                    statistic = unname(g$test$tstat), p_adj = unname(g$test$pvalues),
                    lower = unname(ci[, "lwr"]), upper = unname(ci[, "upr"]))
tt <- lapply(c("BARI2", "BARI4"), function(l) {
  x <- d$CHG[d$ARM == l]; y <- d$CHG[d$ARM == "CTRL"]
  t <- t.test(x, y, var.equal = TRUE)
  wt <- wilcox.test(x, y, exact = FALSE, correct = TRUE)
  list(t = unname(t$statistic), p = t$p.value, lower = t$conf.int[1], upper = t$conf.int[2],
       W = unname(wt$statistic), pw = wt$p.value)
})
out$t_holm <- list(statistic = sapply(tt, `[[`, "t"), p = sapply(tt, `[[`, "p"),
                   p_adj = p.adjust(sapply(tt, `[[`, "p"), "holm"),
                   lower = sapply(tt, `[[`, "lower"), upper = sapply(tt, `[[`, "upper"))
out$wilcoxon_holm <- list(statistic = sapply(tt, `[[`, "W"), p = sapply(tt, `[[`, "pw"),
                          p_adj = p.adjust(sapply(tt, `[[`, "pw"), "holm"))
# p.adjust on a fixed vector, with a tie and an NA
p <- c(0.01, 0.04, 0.03, 0.005, 0.2, 0.04, NA, 0.5)
out$p_adjust <- list(p = p, holm = p.adjust(p, "holm"), hochberg = p.adjust(p, "hochberg"),
                     bonferroni = p.adjust(p, "bonferroni"))
# Dunnett-type single-step adjustment of arbitrary correlated t statistics (multcomp/mvtnorm)
library(mvtnorm)
corr <- matrix(c(1, 0.5, 0.5, 1), 2)
tstat <- c(2.1, -1.0)
set.seed(1)
padj <- sapply(abs(tstat), function(q) 1 - pmvt(lower = -rep(q, 2), upper = rep(q, 2), df = 45,
                                               corr = corr, algorithm = GenzBretz(abseps = 1e-6))[1])
out$dunnett_adjust <- list(t = tstat, corr = corr, df = 45, p_adj = padj)
out$versions <- list(R = R.version.string, multcomp = as.character(packageVersion("multcomp")),
                     mvtnorm = as.character(packageVersion("mvtnorm")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/stats/global_tests/reference.json")
