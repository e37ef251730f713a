//! The relation loaders on more rows than one statement may bind: `prefetch_related`,
//! `with_related`, `with_many_to_many` and `in_bulk` over ~70,000 keys (PostgreSQL refuses a
//! statement with more than 65,535 bound parameters, SQLite one with more than 32,766), on every
//! backend. The keys go in batches; the results come back whole and in order.

use crate::common;

use canter_orm::schema::create_table;
use canter_orm::{ForeignKey, ManyToMany, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "batch")]
pub struct Label {
    pub id: i64,
    #[field(max_length = 20)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "batch")]
pub struct Group {
    pub id: i64,
    pub n: i64,
    pub labels: ManyToMany<Label>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "batch")]
pub struct Member {
    pub id: i64,
    pub n: i64,
    #[field(on_delete = "cascade")]
    pub group: ForeignKey<Group>,
}

/// More keys than either database binds in one statement.
const ROWS: i64 = 70_000;

on_every_backend! {
    async fn relation_loaders_batch_the_keys_of_70_000_rows(vendor) {
        create_table::<Label>("default").await.unwrap();
        create_table::<Group>("default").await.unwrap();
        create_table::<Member>("default").await.unwrap();
        let groups = Group::objects()
            .bulk_create((0..ROWS).map(|n| Group { id: 0, n, labels: Default::default() }).collect())
            .await
            .unwrap();
        let members: Vec<Member> = groups
            .iter()
            .map(|g| Member { id: 0, n: g.n, group: ForeignKey::to(g) })
            .collect();
        Member::objects().bulk_create(members).await.unwrap();
        let red = Label::objects().create(Label { id: 0, name: "red".into() }).await.unwrap();
        let blue = Label::objects().create(Label { id: 0, name: "blue".into() }).await.unwrap();
        // Labels on the first, a middle and the last group: each in a different batch.
        let (first, middle, last) = (&groups[0], &groups[35_000], &groups[ROWS as usize - 1]);
        first.labels.add(&[&red]).await.unwrap();
        middle.labels.add(&[&red, &blue]).await.unwrap();
        last.labels.add(&[&blue]).await.unwrap();
        let db = canter_orm::database("default").unwrap();

        // A foreign key: 70,000 distinct targets.
        let before = db.query_count();
        let prefetched = Member::objects().order_by([Member::id.asc()]).prefetch_related(Member::group).await.unwrap();
        let queries = db.query_count() - before;
        assert!((2..=20).contains(&queries), "batched on {vendor:?}: {queries} queries");
        assert_eq!(prefetched.len(), ROWS as usize);
        assert!(
            prefetched.iter().all(|m| m.group.cached().map(|g| g.n) == Some(m.n)),
            "every member has its own group on {vendor:?}"
        );

        // A reverse relation: 70,000 parents.
        let before = db.query_count();
        let with_members = Group::objects().order_by([Group::id.asc()]).with_related(Member::group).await.unwrap();
        let queries = db.query_count() - before;
        assert!((2..=20).contains(&queries), "batched on {vendor:?}: {queries} queries");
        assert_eq!(with_members.len(), ROWS as usize);
        for (i, (group, members)) in with_members.iter().enumerate() {
            assert_eq!(group.n, i as i64, "the parents in their order");
            assert_eq!(members.iter().map(|m| m.n).collect::<Vec<_>>(), [group.n], "on {vendor:?}");
        }

        // A many-to-many: 70,000 owners.
        let before = db.query_count();
        let labelled = Group::objects().order_by([Group::id.asc()]).with_many_to_many::<Label>("labels").await.unwrap();
        let queries = db.query_count() - before;
        assert!((3..=30).contains(&queries), "batched on {vendor:?}: {queries} queries");
        assert_eq!(labelled.len(), ROWS as usize);
        let names = |i: usize| {
            let mut names: Vec<String> = labelled[i].1.iter().map(|l| l.name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(names(0), ["red"]);
        assert_eq!(names(35_000), ["blue", "red"]);
        assert_eq!(names(ROWS as usize - 1), ["blue"]);
        assert_eq!(labelled.iter().filter(|(_, l)| !l.is_empty()).count(), 3, "on {vendor:?}");

        // in_bulk with as many keys.
        let by_id = Group::objects().in_bulk(groups.iter().map(|g| g.id)).await.unwrap();
        assert_eq!(by_id.len(), ROWS as usize);
        assert_eq!(by_id[&last.id].n, ROWS - 1);
    }
}
