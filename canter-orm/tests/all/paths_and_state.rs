//! Columns across relations and date parts reach the column they name (aggregates JOIN it;
//! assignments and loaders refuse it at compile time, see the `Column` docs); `in_` with `F`
//! items; `eq(None)`; instances remember their database and what `only()`/`defer()` loaded.

use crate::aliases;
use crate::common;

use canter_orm::aggregates::{Avg, Count, Max, Min, Sum};
use canter_orm::chrono::NaiveDate;
use canter_orm::schema::create_table;
use canter_orm::{ForeignKey, Model, ModelExt, ModelState, OrmError};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq, Default)]
#[model(crate = canter_orm, app = "paths")]
struct Writer {
    id: i64,
    #[field(max_length = 50)]
    name: String,
    age: i64,
    born: Option<NaiveDate>,
    state: ModelState,
}

#[derive(Model, Debug, Clone, PartialEq, Default)]
#[model(crate = canter_orm, app = "paths")]
struct Novel {
    id: i64,
    #[field(max_length = 100)]
    title: String,
    pages: i64,
    likes: i64,
    body: String,
    note: Option<String>,
    #[field(on_delete = "cascade")]
    writer: ForeignKey<Writer>,
    #[field(on_delete = "set_null")]
    editor: Option<ForeignKey<Writer>>,
    state: ModelState,
}

async fn seed() -> (Vec<Writer>, Vec<Novel>) {
    create_table::<Writer>("default").await.unwrap();
    create_table::<Novel>("default").await.unwrap();
    let writers = Writer::objects()
        .bulk_create(vec![
            Writer {
                name: "Ann".into(),
                age: 30,
                born: NaiveDate::from_ymd_opt(1994, 3, 1),
                ..Default::default()
            },
            Writer {
                name: "Bob".into(),
                age: 50,
                born: NaiveDate::from_ymd_opt(1974, 7, 9),
                ..Default::default()
            },
            // Ids past the novels' field count: a wrong index would panic or misread.
            Writer {
                name: "Cy".into(),
                age: 70,
                born: None,
                ..Default::default()
            },
        ])
        .await
        .unwrap();
    let novel = |title: &str, pages: i64, likes: i64, writer: &Writer| Novel {
        title: title.into(),
        pages,
        likes,
        body: format!("the body of {title}"),
        writer: ForeignKey::to(writer),
        ..Default::default()
    };
    let mut novels = vec![
        novel("One", 100, 100, &writers[0]),
        novel("Two", 200, 400, &writers[0]),
        novel("Three", 300, 3, &writers[1]),
        novel("Four", 400, 400, &writers[2]),
    ];
    novels[2].editor = Some(ForeignKey::to(&writers[0]));
    let novels = Novel::objects().bulk_create(novels).await.unwrap();
    (writers, novels)
}

on_every_backend! {
    async fn aggregates_across_a_relation_join_the_related_column(vendor) {
        seed().await;
        // Per novel, its writer's age: 30 + 30 + 50 + 70.
        let totals = Novel::objects()
            .aggregate([
                Sum::of(Novel::writer.rel(Writer::age)),
                Avg::of(Novel::writer.rel(Writer::age)).named("mean_age"),
                Min::of(Novel::writer.rel(Writer::age)),
                Max::of(Novel::writer.rel(Writer::name)),
                Count::of(Novel::editor.rel(Writer::name)),
                Count::of(Novel::writer.rel(Writer::id)).distinct().named("writers"),
                Sum::of(Novel::pages),
            ])
            .await
            .unwrap();
        assert_eq!(totals["writer__age__sum"], json!(180), "{vendor:?}: {totals:?}");
        assert_eq!(totals["mean_age"], json!(45.0));
        assert_eq!(totals["writer__age__min"], json!(30));
        assert_eq!(totals["writer__name__max"], json!("Cy"));
        assert_eq!(totals["editor__name__count"], json!(1), "only one novel has an editor");
        assert_eq!(totals["writers"], json!(3));
        assert_eq!(totals["pages__sum"], json!(1000));

        // With a filter through the same relation (one JOIN serves both).
        let young = Novel::objects()
            .filter(Novel::writer.rel(Writer::age).lt(60))
            .aggregate([Sum::of(Novel::writer.rel(Writer::age)), Count::all()])
            .await
            .unwrap();
        assert_eq!(young["writer__age__sum"], json!(110));
        assert_eq!(young["count"], json!(3));

        // Grouped by a field of the model, summing across the relation.
        let per_likes = Novel::objects()
            .annotate_values(&["likes"], [Sum::of(Novel::writer.rel(Writer::age)).named("ages")])
            .await
            .unwrap();
        let pairs: Vec<(i64, i64)> = per_likes
            .iter()
            .map(|r| (r["likes"].as_i64().unwrap(), r["ages"].as_i64().unwrap()))
            .collect();
        assert_eq!(pairs, [(3, 50), (100, 30), (400, 100)]);
    }
}

on_every_backend! {
    async fn ordering_and_lookups_across_relations_and_date_parts(vendor) {
        seed().await;
        let titles = |rows: Vec<Novel>| rows.into_iter().map(|n| n.title).collect::<Vec<_>>();
        let by_age = Novel::objects()
            .order_by([Novel::writer.rel(Writer::age).desc(), Novel::pages.asc()])
            .await
            .unwrap();
        assert_eq!(titles(by_age), ["Four", "Three", "One", "Two"], "{vendor:?}");
        let born_1974 = Novel::objects()
            .filter(Novel::writer.rel(Writer::born).year().exact(1974))
            .await
            .unwrap();
        assert_eq!(titles(born_1974), ["Three"]);
        let born_march = Novel::objects()
            .filter(Novel::writer.rel(Writer::born).month().eq(3))
            .order_by([Novel::id.asc()])
            .await
            .unwrap();
        assert_eq!(titles(born_march), ["One", "Two"]);
        let oldest = Novel::objects()
            .latest(Novel::writer.rel(Writer::age))
            .await
            .unwrap();
        assert_eq!(oldest.title, "Four");
    }
}

on_every_backend! {
    async fn in_with_f_items_compares_with_the_columns(vendor) {
        seed().await;
        // likes IN (pages, pages * 2): One (100 = 100) and Two (400 = 200 * 2), not Three/Four.
        let rows = Novel::objects()
            .filter(Novel::likes.in_([Novel::pages.f(), Novel::pages.f() * 2]))
            .order_by([Novel::id.asc()])
            .await
            .unwrap();
        let titles: Vec<&str> = rows.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["One", "Two", "Four"], "Four: 400 = 400 on {vendor:?}");
        let rows = Novel::objects()
            .filter(Novel::likes.in_([Novel::pages.f() + 1]))
            .count()
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }
}

on_every_backend! {
    async fn eq_none_is_null_and_set_none_writes_null(vendor) {
        let (writers, novels) = seed().await;
        let no_editor = Novel::objects().filter(Novel::editor.eq(None)).count().await.unwrap();
        assert_eq!(no_editor, 3, "{vendor:?}");
        let edited = Novel::objects().exclude(Novel::editor.eq(None)).get().await.unwrap();
        assert_eq!(edited.id, novels[2].id);
        let unborn = Writer::objects().filter(Writer::born.exact(None)).get().await.unwrap();
        assert_eq!(unborn.id, writers[2].id);
        assert_eq!(Novel::objects().filter(Novel::note.eq(None)).count().await.unwrap(), 4);

        Novel::objects()
            .filter(Novel::id.eq(novels[0].id))
            .update([Novel::note.set(Some("n".to_owned()))])
            .await
            .unwrap();
        assert_eq!(Novel::objects().filter(Novel::note.eq(None)).count().await.unwrap(), 3);
        Novel::objects().update([Novel::note.set(None), Novel::editor.set(None)]).await.unwrap();
        assert_eq!(Novel::objects().filter(Novel::note.isnull(true)).count().await.unwrap(), 4);
        assert_eq!(Novel::objects().filter(Novel::editor.eq(None)).count().await.unwrap(), 4);
    }
}

on_every_backend! {
    async fn save_after_only_or_defer_writes_only_the_loaded_fields(vendor) {
        let (_, novels) = seed().await;
        let id = novels[0].id;
        let mut partial = Novel::objects().only(&["title"]).unwrap().filter(Novel::id.eq(id)).get().await.unwrap();
        assert_eq!(partial.body, "", "not loaded");
        assert_eq!(partial.state.loaded_fields().map(<[usize]>::len), Some(2), "id and title");
        partial.title = "One, revised".into();
        partial.save().await.unwrap();
        let row = Novel::objects().filter(Novel::id.eq(id)).get().await.unwrap();
        assert_eq!(row.title, "One, revised", "{vendor:?}");
        assert_eq!(row.body, "the body of One", "the unloaded body kept on {vendor:?}");
        assert_eq!((row.pages, row.likes, row.writer.id()), (100, 100, novels[0].writer.id()));

        let mut deferred = Novel::objects().defer(&["body", "pages"]).unwrap().filter(Novel::id.eq(id)).get().await.unwrap();
        deferred.likes = 7;
        // Changing a field that was never loaded does not write it either (Django's rule).
        deferred.body = "overwritten?".into();
        deferred.save().await.unwrap();
        let row = Novel::objects().filter(Novel::id.eq(id)).get().await.unwrap();
        assert_eq!((row.likes, row.pages, row.body.as_str()), (7, 100, "the body of One"));

        // Streamed rows carry the same record.
        let mut stream = Novel::objects().only(&["likes"]).unwrap().filter(Novel::id.eq(id)).stream();
        let mut streamed = futures_util::StreamExt::next(&mut stream).await.unwrap().unwrap();
        drop(stream);
        streamed.likes = 8;
        streamed.save().await.unwrap();
        let row = Novel::objects().filter(Novel::id.eq(id)).get().await.unwrap();
        assert_eq!((row.likes, row.title.as_str(), row.body.as_str()), (8, "One, revised", "the body of One"));

        // raw() reads whole rows whatever only() said: they are not marked partial.
        let raw = Novel::objects().only(&["title"]).unwrap().raw("SELECT * FROM paths_novel ORDER BY id", []).await.unwrap();
        assert_eq!(raw[0].body, "the body of One");
        assert_eq!((raw[0].state.loaded_fields(), raw[0].state.db()), (None, Some("default")));

        // refresh_from_db loads everything; a full save then writes everything.
        deferred.refresh_from_db().await.unwrap();
        assert_eq!(deferred.body, "the body of One");
        assert_eq!(deferred.state.loaded_fields(), None);

        // A partial row whose row is gone is not re-inserted from its placeholders.
        let mut gone = Novel::objects().only(&["title"]).unwrap().filter(Novel::id.eq(novels[1].id)).get().await.unwrap();
        Novel::objects().filter(Novel::id.eq(novels[1].id)).delete().await.unwrap();
        let err = gone.save().await.unwrap_err();
        assert!(err.to_string().contains("only()/defer()"), "{err}");
        assert_eq!(Novel::objects().filter(Novel::id.eq(novels[1].id)).count().await.unwrap(), 0);
    }
}

on_every_backend! {
    async fn instances_remember_the_database_they_came_from(vendor) {
        let fresh = aliases::fresh(vendor, &["default", "replica"], |_| {}).await;
        fresh.dbs.clone().scope(async {
            for alias in ["default", "replica"] {
                create_table::<Writer>(alias).await.unwrap();
            }
            // The same id on both databases, different data.
            let on_default = Writer::objects().create(Writer { name: "primary".into(), age: 1, ..Default::default() }).await.unwrap();
            let on_replica = Writer::objects().using("replica").create(Writer { name: "copy".into(), age: 2, ..Default::default() }).await.unwrap();
            assert_eq!(on_default.id, on_replica.id);
            assert_eq!(on_replica.state.db(), Some("replica"), "create() records its alias");

            let mut fetched = Writer::objects().using("replica").get().await.unwrap();
            assert_eq!(fetched.state.db(), Some("replica"));
            fetched.age = 20;
            fetched.save().await.unwrap();
            let name_age = |w: Writer| (w.name, w.age);
            assert_eq!(name_age(Writer::objects().using("replica").get().await.unwrap()), ("copy".into(), 20), "saved to the replica on {vendor:?}");
            assert_eq!(name_age(Writer::objects().get().await.unwrap()), ("primary".into(), 1), "default untouched on {vendor:?}");

            // refresh_from_db reads from the same database.
            Writer::objects().using("replica").update([Writer::age.set(21)]).await.unwrap();
            fetched.refresh_from_db().await.unwrap();
            assert_eq!((fetched.name.as_str(), fetched.age), ("copy", 21));
            assert_eq!(fetched.state.db(), Some("replica"));

            // A partial row from the replica saves its loaded fields there.
            let mut partial = Writer::objects().using("replica").only(&["age"]).unwrap().get().await.unwrap();
            partial.age = 22;
            partial.save().await.unwrap();
            assert_eq!(name_age(Writer::objects().using("replica").get().await.unwrap()), ("copy".into(), 22));

            // save_using moves it explicitly; the instance then belongs there.
            let mut moved = Writer { name: "new".into(), age: 5, ..Default::default() };
            moved.save_using("replica").await.unwrap();
            assert_eq!(moved.state.db(), Some("replica"));
            assert_eq!(Writer::objects().using("replica").count().await.unwrap(), 2);
            assert_eq!(Writer::objects().count().await.unwrap(), 1);

            // delete() deletes on the replica.
            assert_eq!(fetched.delete().await.unwrap(), 1);
            assert_eq!(Writer::objects().using("replica").count().await.unwrap(), 1);
            assert_eq!(Writer::objects().count().await.unwrap(), 1, "default untouched");
            assert!(matches!(fetched.refresh_from_db().await, Err(OrmError::DoesNotExist { .. })));
        })
        .await;
        fresh.finish();
    }
}
