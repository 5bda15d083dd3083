//! The README's detector table is generated from the registry; this keeps it current.

#[test]
fn the_readme_lists_every_detector_as_the_registry_does() {
    let readme = include_str!("../../../README.md");
    let begin = "<!-- detectors:begin -->\n";
    let end = "<!-- detectors:end -->";
    let start = readme
        .find(begin)
        .expect("the README marks its detector table")
        + begin.len();
    let stop = readme[start..].find(end).expect("the table's end marker") + start;
    assert_eq!(
        readme[start..stop],
        anomex::detector_table(),
        "the README's detector table is out of date: replace it by `anomex list --markdown`"
    );
}
