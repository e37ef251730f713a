//! A migration that fails halfway. Where DDL is transactional (SQLite, PostgreSQL) the failure
//! rolls the whole migration back; on MariaDB each step commits on its own, so the error names
//! the failed step and what stays applied, the progress is recorded (what `showmigrations`
//! prints as `[~] name (k of n steps applied)`), and once the cause is fixed the next
//! `migrate` goes on from the failed step without running the earlier ones again.

use crate::common;
use crate::migration_operations::{make, to};

use canter_orm::migrations::operations::Step;
use canter_orm::migrations::{Executor, MigrationError, MigrationSet, Progress, Target};
use canter_orm::Model;

mod v1 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "mf", name = "Article", table = "mf_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 50)]
        pub title: String,
    }
}

mod v2 {
    // A new column, then a unique constraint over it and the title: two steps at least, the
    // second failing while two rows share a title.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "mf", name = "Article", table = "mf_article")]
    #[model(unique(fields = ["title", "views"], name = "mf_title_views"))]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 50)]
        pub title: String,
        #[field(default = 0)]
        pub views: i64,
    }
}

fn executor(dir: &std::path::Path) -> Executor {
    Executor::new(MigrationSet::load(dir).unwrap(), "default")
}

on_every_backend! {
    async fn a_migration_failing_halfway_is_reported_and_resumed(vendor) {
        let dir = canter_test_kit::TempDir::new("migration-failures");
        make(&dir, &[v1::Article::meta()], &[]);
        executor(&dir).migrate(&Target::Latest).await.unwrap();
        for title in ["same", "same"] {
            v1::Article::objects().create(v1::Article { id: 0, title: title.into() }).await.unwrap();
        }
        let (name, _) = make(&dir, &[v2::Article::meta()], &[]);
        let key = ("mf".to_string(), name.clone());
        let steps = executor(&dir).steps(&key, vendor, true).unwrap();
        let failing = 1 + steps
            .iter()
            .position(|s| matches!(s, Step::Sql(sql) if sql.contains("mf_title_views")))
            .expect("a step makes the unique constraint");

        let err = executor(&dir).migrate(&Target::Latest).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&format!("mf.{name}")), "{message}");
        if common::is_mysql(vendor) {
            assert!(failing > 1, "the constraint comes after the column: {steps:?}");
            assert!(
                matches!(err, MigrationError::PartlyApplied { step, steps: n, .. } if step == failing && n == steps.len()),
                "{err:?}"
            );
            let kept = if failing == 2 {
                "step 1 stays applied".to_string()
            } else {
                format!("steps 1 to {} stay applied", failing - 1)
            };
            assert!(
                message.contains(&format!("at step {failing} of {}", steps.len()))
                    && message.contains(&kept)
                    && message.contains(&format!("go on from step {failing}")),
                "{message}"
            );
            // What stays applied is real: the new column is there, the migration is not
            // recorded applied, and its progress is what showmigrations prints.
            assert_eq!(v2::Article::objects().await.unwrap().len(), 2);
            assert!(!executor(&dir).applied().await.unwrap().contains(&key));
            let progress = executor(&dir).in_progress().await.unwrap();
            assert_eq!(
                progress.get(&key),
                Some(&Progress { forwards: true, steps_done: failing - 1 }),
                "{progress:?}"
            );
            // Rolling back past it before it is finished is refused with what to do (it is
            // not recorded applied: a rollback would skip it and leave its column behind).
            let err = executor(&dir)
                .migrate(&to("mf", Some("0001_initial")))
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("cannot unapply mf.{name}"))
                    && err.contains("part-way applied")
                    && err.contains("run migrate to finish it"),
                "{err}"
            );
        } else {
            // The whole migration rolled back: no new column, nothing recorded, no progress.
            assert!(matches!(err, MigrationError::Failed { .. }), "{err:?}");
            assert!(v2::Article::objects().await.is_err(), "views was rolled back on {vendor:?}");
            assert!(executor(&dir).in_progress().await.unwrap().is_empty());
        }
        assert!(!executor(&dir).applied().await.unwrap().contains(&key));

        // The cause fixed, migrate finishes it: on MariaDB from the failed step (running the
        // column's step again would fail: the column exists).
        common::raw("UPDATE mf_article SET title = 'other' WHERE id = 2").await;
        let log = executor(&dir).migrate(&Target::Latest).await.unwrap();
        assert_eq!(log, [format!("Applying mf.{name}... OK")]);
        assert!(executor(&dir).applied().await.unwrap().contains(&key));
        assert!(executor(&dir).in_progress().await.unwrap().is_empty());
        let titles: Vec<(String, i64)> = v2::Article::objects()
            .order_by([v2::Article::id.asc()])
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.title, a.views))
            .collect();
        assert_eq!(titles, [("same".to_string(), 0), ("other".to_string(), 0)]);
        let duplicate = v2::Article::objects()
            .create(v2::Article { id: 0, title: "same".into(), views: 0 })
            .await;
        assert!(duplicate.is_err(), "the constraint holds on {vendor:?}");
    }
}
