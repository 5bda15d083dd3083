//! The suite loaders on small fixtures written here, including malformed ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anomex_data::suite::{list, load, Loader, Source};
use ndarray::{array, Array2};
use ndarray_npy::{NpzWriter, WriteNpyExt};
use std::fs;
use std::path::Path;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn npy(path: &Path, a: &Array2<f64>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    a.write_npy(fs::File::create(path).unwrap()).unwrap();
}

fn err(r: anomex_core::Result<impl std::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

fn nab_fixture(dir: &Path) {
    let rows: String = (0..10)
        .map(|i| format!("2014-04-01 00:{:02}:00,{}\n", i * 5, i))
        .collect();
    write(
        &dir.join("data/realTraffic/speed.csv"),
        &format!("timestamp,value\n{rows}"),
    );
    write(
        &dir.join("data/artificialNoAnomaly/flat.csv"),
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,1\n",
    );
    write(
        &dir.join("labels/combined_windows.json"),
        r#"{"realTraffic/speed.csv": [["2014-04-01 00:10:00.000000", "2014-04-01 00:20:00.000000"]],
            "artificialNoAnomaly/flat.csv": []}"#,
    );
}

#[test]
fn nab_rows_inside_windows_are_anomalous() {
    let dir = tempfile::tempdir().unwrap();
    nab_fixture(dir.path());
    let items = list(&Loader::Nab, dir.path(), dir.path()).unwrap();
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["artificialNoAnomaly/flat", "realTraffic/speed"]);
    let d = load(&items[1]).unwrap();
    let expected: Vec<bool> = (0..10).map(|i| (2..=4).contains(&i)).collect();
    assert_eq!(d.labels, expected, "window ends are inclusive");
    assert_eq!((d.train_end, d.eval_start), (None, 0));
    assert!(load(&items[0]).unwrap().labels.iter().all(|&l| !l));
}

#[test]
fn nab_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    nab_fixture(dir.path());
    let labels = dir.path().join("labels/combined_windows.json");
    write(&labels, r#"{"realTraffic/missing.csv": []}"#);
    assert!(err(list(&Loader::Nab, dir.path(), dir.path())).contains("missing.csv"));
    write(
        &labels,
        r#"{"realTraffic/speed.csv": [["yesterday", "today"]]}"#,
    );
    let items = list(&Loader::Nab, dir.path(), dir.path()).unwrap();
    assert!(err(load(&items[0])).contains("`yesterday` is not a"));
    write(&labels, "[1, 2]");
    assert!(err(list(&Loader::Nab, dir.path(), dir.path())).contains("combined_windows.json"));
    let empty = tempfile::tempdir().unwrap();
    assert!(err(list(&Loader::Nab, empty.path(), empty.path())).contains("combined_windows.json"));
    assert!(
        err(list(&Loader::Nab, &empty.path().join("nope"), empty.path()))
            .contains("does not exist")
    );
}

fn smap_fixture(dir: &Path, root: &Path) {
    npy(&root.join("train/P-1.npy"), &Array2::from_elem((4, 2), 0.5));
    npy(
        &root.join("test/P-1.npy"),
        &Array2::from_shape_fn((6, 2), |(i, j)| (i + j) as f64),
    );
    write(
        &dir.join("labeled_anomalies.csv"),
        "chan_id,spacecraft,anomaly_sequences,class,num_values\nP-1,SMAP,\"[[1, 2], [5, 5]]\",\"[point]\",6\n",
    );
}

#[test]
fn smap_msl_is_train_then_test_labelled_in_test() {
    let dir = tempfile::tempdir().unwrap();
    smap_fixture(dir.path(), &dir.path().join("SMAP_MSL"));
    let items = list(&Loader::SmapMsl, dir.path(), dir.path()).unwrap();
    assert_eq!(items[0].name, "SMAP/P-1");
    let d = load(&items[0]).unwrap();
    assert_eq!(d.frame.rows(), 10);
    assert_eq!((d.train_end, d.eval_start), (Some(4), 4));
    let flagged: Vec<usize> = (0..10).filter(|&i| d.labels[i]).collect();
    assert_eq!(flagged, [5, 6, 9]);
}

#[test]
fn smap_msl_archive_is_unpacked_once_into_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    smap_fixture(dir.path(), &staging.path().join("SMAP_MSL"));
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all("SMAP_MSL", staging.path().join("SMAP_MSL"))
        .unwrap();
    let packed = ruzstd::encoding::compress_to_vec(
        &tar.into_inner().unwrap()[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    fs::write(dir.path().join("SMAP_MSL.tar.zst"), packed).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let items = list(&Loader::SmapMsl, dir.path(), cache.path()).unwrap();
    assert!(cache.path().join("SMAP_MSL/test/P-1.npy").is_file());
    assert_eq!(load(&items[0]).unwrap().frame.rows(), 10);
    // a second listing reuses the unpacked folder
    fs::remove_file(dir.path().join("SMAP_MSL.tar.zst")).unwrap();
    assert_eq!(
        list(&Loader::SmapMsl, dir.path(), cache.path()).unwrap(),
        items
    );
}

#[test]
fn smap_msl_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    smap_fixture(dir.path(), &dir.path().join("SMAP_MSL"));
    let index = dir.path().join("labeled_anomalies.csv");
    write(
        &index,
        "chan_id,spacecraft,anomaly_sequences\nP-1,SMAP,\"[[1, 9]]\"\n",
    );
    let items = list(&Loader::SmapMsl, dir.path(), dir.path()).unwrap();
    assert!(err(load(&items[0])).contains("outside the 6 test rows"));
    write(
        &index,
        "chan_id,spacecraft,anomaly_sequences\nP-1,SMAP,soon\n",
    );
    assert!(err(list(&Loader::SmapMsl, dir.path(), dir.path())).contains("line 2"));
    write(
        &index,
        "chan_id,spacecraft,anomaly_sequences\n../x,SMAP,[]\n",
    );
    assert!(err(list(&Loader::SmapMsl, dir.path(), dir.path())).contains("not a channel name"));
    let bare = tempfile::tempdir().unwrap();
    write(&bare.path().join("labeled_anomalies.csv"), "chan_id\n");
    assert!(err(list(&Loader::SmapMsl, bare.path(), bare.path())).contains("SMAP_MSL.tar.zst"));
}

#[test]
fn adbench_reads_x_and_y() {
    let dir = tempfile::tempdir().unwrap();
    let mut npz = NpzWriter::new(fs::File::create(dir.path().join("1_toy.npz")).unwrap());
    npz.add_array("X", &array![[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]])
        .unwrap();
    npz.add_array("y", &array![0.0, 0.0, 1.0]).unwrap();
    npz.finish().unwrap();
    let mut npz = NpzWriter::new(fs::File::create(dir.path().join("2_nolabels.npz")).unwrap());
    npz.add_array("X", &array![[1.0], [2.0]]).unwrap();
    npz.finish().unwrap();
    let items = list(&Loader::Adbench, dir.path(), dir.path()).unwrap();
    assert_eq!(items.len(), 2);
    let d = load(&items[0]).unwrap();
    assert_eq!((d.name.as_str(), d.frame.cols()), ("1_toy", 2));
    assert_eq!(d.labels, [false, false, true]);
    assert!(err(load(&items[1])).contains("no labels"));
    assert!(!Loader::Adbench.is_series());
}

#[test]
fn tsb_ad_name_gives_the_training_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (0..8)
        .map(|i| format!("{i},{},{}\n", i * 2, u8::from(i == 6)))
        .collect();
    write(
        &dir.path().join("001_NAB_id_1_Facility_tr_5_1st_6.csv"),
        &format!("a,b,Label\n{body}"),
    );
    let items = list(&Loader::TsbAd, dir.path(), dir.path()).unwrap();
    assert!(matches!(
        items[0].source,
        Source::TsbAd { train_end: 5, .. }
    ));
    let d = load(&items[0]).unwrap();
    assert_eq!((d.frame.cols(), d.train_end), (2, Some(5)));
    assert_eq!(d.labels.iter().position(|&l| l), Some(6));
    write(&dir.path().join("002_bad_name.csv"), "a,Label\n1,0\n");
    assert!(err(list(&Loader::TsbAd, dir.path(), dir.path())).contains("_tr_"));
    fs::remove_file(dir.path().join("002_bad_name.csv")).unwrap();
    write(
        &dir.path().join("003_X_tr_50_1st_6.csv"),
        &format!("a,b,Label\n{body}"),
    );
    let items = list(&Loader::TsbAd, dir.path(), dir.path()).unwrap();
    assert!(err(load(&items[1])).contains("does not fit the 8 rows"));
}

#[test]
fn ucr_name_gives_prefix_and_anomaly() {
    let dir = tempfile::tempdir().unwrap();
    let values: String = (0..10).map(|i| format!("  {i}.5\n")).collect();
    write(&dir.path().join("001_UCR_Anomaly_toy_4_7_8.txt"), &values);
    // some archive files hold every value on one line
    write(
        &dir.path().join("002_UCR_Anomaly_row_3_9_9.txt"),
        "1 2 3 4 5 6 7 8 9\n",
    );
    let items = list(&Loader::Ucr, dir.path(), dir.path()).unwrap();
    let d = load(&items[0]).unwrap();
    assert_eq!(d.train_end, Some(4));
    let flagged: Vec<usize> = (0..10).filter(|&i| d.labels[i]).collect();
    assert_eq!(flagged, [6, 7], "1-based inclusive 7..8");
    assert_eq!(
        load(&items[1]).unwrap().labels.iter().position(|&l| l),
        Some(8)
    );
    write(
        &dir.path().join("003_UCR_Anomaly_long_3_9_20.txt"),
        "1 2 3 4 5 6 7 8 9\n",
    );
    write(
        &dir.path().join("004_UCR_Anomaly_text_3_4_4.txt"),
        "1 2 x 4 5\n",
    );
    let items = list(&Loader::Ucr, dir.path(), dir.path()).unwrap();
    assert!(err(load(&items[2])).contains("ends at row 20"));
    assert!(err(load(&items[3])).contains("value 3 (`x`)"));
    write(&dir.path().join("005_UCR_Anomaly_x_1_0_0.txt"), "1\n");
    assert!(err(list(&Loader::Ucr, dir.path(), dir.path())).contains("1-based"));
}

#[test]
fn labelled_csv_and_loader_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("m.csv"),
        "x,y,is_anomaly\n1,2,0\n3,4,1\n5,6,0\n",
    );
    let loader = Loader::parse("csv:is_anomaly").unwrap();
    assert_eq!(loader.to_string(), "csv:is_anomaly");
    let items = list(&loader, dir.path(), dir.path()).unwrap();
    let d = load(&items[0]).unwrap();
    assert_eq!(
        (d.frame.cols(), d.labels.clone()),
        (2, vec![false, true, false])
    );
    let missing = Loader::parse("csv:label").unwrap();
    let items = list(&missing, dir.path(), dir.path()).unwrap();
    assert!(err(load(&items[0])).contains("label"));
    for name in ["nab", "smap_msl", "adbench", "tsb_ad", "ucr"] {
        assert_eq!(Loader::parse(name).unwrap().to_string(), name);
    }
    assert!(err(Loader::parse("kaggle")).contains("unknown loader `kaggle`"));
    assert!(err(Loader::parse("csv:")).contains("unknown loader"));
    assert!(err(list(&Loader::Ucr, dir.path(), dir.path())).contains("no ucr data sets"));
}
