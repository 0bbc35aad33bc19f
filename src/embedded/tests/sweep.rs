//! The start-up sweep: the files of uploads idle beyond the keep-age and the side files of deleted objects go;
//! objects, their side files, uploads still within the keep-age and files the store did not write stay.

use std::time::{Duration, SystemTime};

use super::{PART, pattern, put, staged_upload, store_with_bucket, tree};
use crate::embedded::folder::{Swept, sweep};
use crate::embedded::layout::side_file_stem;

#[tokio::test]
async fn a_sweep_removes_leftovers_and_keeps_every_object() {
    // Arrange: two objects, an upload cut after its first part, and the leftovers of older runs.
    let (dir, store) = store_with_bucket().await;
    let root = dir.path();
    put(&store, "kept/one.txt", b"1").await.expect("put");
    put(&store, "kept/two.txt", b"22").await.expect("put");
    let (upload_id, _) = staged_upload(&store, "cut/big.bin", pattern(PART, 1)).await;
    drop(store);
    let gone = side_file_stem("uploads", "deleted/long-ago.txt");
    std::fs::write(
        root.join(format!("{gone}.metadata.json")),
        b"{\"content_type\":\"text/plain\"}",
    )
    .expect("write");
    std::fs::write(root.join(format!("{gone}.internal.json")), b"{}").expect("write");
    // Not the store's, or not recognisably: left alone.
    let unreachable = side_file_stem("uploads", "../x");
    let foreign = [
        ".env".to_owned(),
        "notes.txt".to_owned(),
        format!("{unreachable}.metadata.json"),
        ".bucket-!!.object-??.metadata.json".to_owned(),
    ];
    for name in &foreign {
        std::fs::write(root.join(name), b"x").expect("write");
    }
    std::fs::create_dir_all(root.join("uploads/empty/deeper/deepest")).expect("mkdir");
    std::fs::create_dir_all(root.join("not a bucket/empty")).expect("mkdir");
    let staged = format!(".upload_id-{upload_id}.staging");
    assert!(tree(root).contains(&staged));
    let leftover_bytes: u64 = tree(root)
        .iter()
        .filter(|name| {
            name.starts_with(".upload") || name.contains(".upload-") || name.starts_with(&gone)
        })
        .map(|name| std::fs::metadata(root.join(name)).expect("size").len())
        .sum();
    assert!(leftover_bytes > u64::try_from(PART).expect("small"));

    // Act: a minute later, with nothing kept.
    let later = SystemTime::now() + Duration::from_secs(60);
    let swept = sweep(root, Duration::ZERO, later).expect("sweep");

    // Assert
    assert_eq!(
        swept,
        Swept {
            uploads: 1,
            kept_uploads: 0,
            upload_files: 4,
            orphaned_side_files: 2,
            empty_folders: 3,
            bytes: leftover_bytes,
            failures: 0,
        }
    );
    let after = tree(root);
    let uploads: Vec<_> = after.iter().filter(|n| n.starts_with(".upload")).collect();
    assert!(uploads.is_empty(), "{uploads:?}");
    assert!(!after.iter().any(|n| n.starts_with(&gone)), "{after:?}");
    assert!(!after.contains("uploads/empty"));
    for name in &foreign {
        assert!(after.contains(name), "{name} was removed");
    }
    assert!(after.contains("not a bucket/empty"));
    for key in ["kept/one.txt", "kept/two.txt"] {
        assert!(after.contains(&format!("uploads/{key}")));
        let stem = side_file_stem("uploads", key);
        assert!(after.contains(&format!("{stem}.metadata.json")), "{key}");
        assert!(after.contains(&format!("{stem}.internal.json")), "{key}");
    }
    // Nothing left to sweep.
    assert_eq!(
        sweep(root, Duration::ZERO, later).expect("sweep again"),
        Swept::default()
    );
}
