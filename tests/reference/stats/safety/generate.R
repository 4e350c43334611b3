# Reference safety tables for ssctrial.stats.create_ae_* and compute_eair, computed independently in base R.
# Run from the repository root: Rscript tests/reference/stats/safety/generate.R
adsl <- read.csv("tests/reference/stats/data/adsl_like.csv")
adae <- read.csv("tests/reference/stats/data/adae_like.csv", colClasses = c(AETOXGR = "character"))
pop <- adsl[adsl$SAFFL == "Y", ]
ae <- adae[adae$TRTEMFL == "Y" & adae$USUBJID %in% pop$USUBJID, ]
ae$ARM <- pop$TRT01A[match(ae$USUBJID, pop$USUBJID)]
arms <- sort(unique(pop$TRT01A))
N <- sapply(arms, function(a) sum(pop$TRT01A == a))
count <- function(sub) sapply(arms, function(a) length(unique(sub$USUBJID[sub$ARM == a])))
ffh <- function(n) fisher.test(cbind(n, N - n))$p.value
rows <- list()
add <- function(key1, key2, sub) {
  n <- count(sub)
  rows[[length(rows) + 1]] <<- data.frame(key1 = key1, key2 = key2, arm = arms, n = n, N = N, p = ffh(n))
}
add("overview", "Any AE", ae)
add("overview", "Serious AE", ae[ae$AESER == "Y", ])
add("overview", "Grade >= 3 AE", ae[as.integer(ae$AETOXGR) >= 3, ])
add("overview", "AE leading to discontinuation", ae[ae$AEACN == "DRUG WITHDRAWN", ])
for (soc in sort(unique(ae$AESOC))) {
  s <- ae[ae$AESOC == soc, ]
  add(soc, "", s)
  for (term in sort(unique(s$AEDECOD))) add(soc, term, s[s$AEDECOD == term, ])
}
tab <- do.call(rbind, rows)
write.csv(tab, "tests/reference/stats/safety/counts.csv", row.names = FALSE)
# maximum grade per subject
mg <- tapply(as.integer(ae$AETOXGR), ae$USUBJID, max)
pop$maxgr <- mg[pop$USUBJID]
grades <- do.call(rbind, lapply(c("No AE", 1:5), function(g) data.frame(max_grade = g, arm = arms,
  n = sapply(arms, function(a) if (g == "No AE") sum(is.na(pop$maxgr[pop$TRT01A == a]))
                                else sum(pop$maxgr[pop$TRT01A == a] == as.integer(g), na.rm = TRUE)))))
write.csv(grades, "tests/reference/stats/safety/max_grade.csv", row.names = FALSE)
# EAIR: subjects with any AE per 100 patient-years, exact Poisson CI from poisson.test
py <- sapply(arms, function(a) sum(pop$TRTDURD[pop$TRT01A == a]) / 365.25)
n_any <- count(ae)
eair <- do.call(rbind, lapply(seq_along(arms), function(i) {
  ci <- poisson.test(n_any[i], py[i])$conf.int
  data.frame(arm = arms[i], n = n_any[i], patient_years = py[i], rate = 100 * n_any[i] / py[i],
             lower = 100 * ci[1], upper = 100 * ci[2])
}))
write.csv(eair, "tests/reference/stats/safety/eair.csv", row.names = FALSE)
writeLines(R.version.string, "tests/reference/stats/safety/R_VERSION.txt")
