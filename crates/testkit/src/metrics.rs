//! Reading a Prometheus text scrape in tests.

/// The value of the one series `name{..}` whose labels include every `labels` pair; 0 when
/// no such series exists yet (counters appear on first use).
pub fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    let mut found = scrape.lines().filter_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (series, value) = match rest.strip_prefix('{') {
            Some(labelled) => labelled.rsplit_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let series: Vec<&str> = series.split(',').collect();
        wanted
            .iter()
            .all(|pair| series.contains(&pair.as_str()))
            .then(|| value.parse::<f64>().expect("a number"))
    });
    let value = found.next().unwrap_or(0.0);
    assert!(
        found.next().is_none(),
        "several {name} series match {labels:?}"
    );
    value
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn picks_the_series_by_name_and_labels() {
        let scrape = "# HELP x_total X\n\
                      x_total{rule=\"login\",service=\"auth\"} 3\n\
                      x_total{rule=\"register\",service=\"auth\"} 1\n\
                      x_total_other 9\n\
                      y 2.5\n";
        assert_eq!(sample(scrape, "x_total", &[("rule", "login")]), 3.0);
        assert_eq!(sample(scrape, "y", &[]), 2.5);
        assert_eq!(sample(scrape, "z", &[]), 0.0);
    }
}
