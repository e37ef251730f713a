//! Django's prefetch cache on every backend: after `prefetch_related`, a many-to-many manager
//! (`volume.labels.all()`) and a reverse accessor (`writer.volumes()`) return the prefetched
//! rows without a query, with integer, UUID and string keys on either side; chaining a new
//! condition queries again, and changing the links drops the cache.

use crate::common;

use canter_orm::schema::create_table;
use canter_orm::uuid::Uuid;
use canter_orm::{ForeignKey, ManyToMany, Model, ModelState};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "pfc")]
pub struct Label {
    #[field(primary_key, max_length = 20)]
    pub code: String,
}

/// An integer key, with a state to keep its reverse sets in.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "pfc")]
pub struct Writer {
    pub id: i64,
    #[field(max_length = 50)]
    pub name: String,
    pub favourites: ManyToMany<Label>,
    pub state: ModelState,
}

/// A string key, with a state.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "pfc")]
pub struct Imprint {
    #[field(primary_key, max_length = 10)]
    pub code: String,
    pub state: ModelState,
}

/// A UUID key pointing at all three: two foreign keys to `Writer` (two reverse sets of one
/// model, kept apart), a nullable one, and a many-to-many to string keys.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "pfc")]
pub struct Volume {
    #[field(primary_key)]
    pub id: Uuid,
    #[field(max_length = 50)]
    pub title: String,
    #[field(on_delete = "cascade", related_name = "volumes")]
    pub writer: ForeignKey<Writer>,
    #[field(on_delete = "set_null", related_name = "edited")]
    pub editor: Option<ForeignKey<Writer>>,
    #[field(on_delete = "cascade", related_name = "published")]
    pub imprint: ForeignKey<Imprint>,
    pub labels: ManyToMany<Label>,
}

struct Library {
    writers: Vec<Writer>,
    labels: Vec<Label>,
}

fn volume(title: &str, writer: &Writer, editor: Option<&Writer>, imprint: &Imprint) -> Volume {
    Volume {
        id: Uuid::new_v4(),
        title: title.into(),
        writer: ForeignKey::to(writer),
        editor: editor.map(ForeignKey::to),
        imprint: ForeignKey::to(imprint),
        labels: ManyToMany::default(),
    }
}

/// Ursula wrote two volumes (one edited by Terry), Terry one, Nobody none; labels on two.
async fn library() -> Library {
    create_table::<Label>("default").await.unwrap();
    create_table::<Writer>("default").await.unwrap();
    create_table::<Imprint>("default").await.unwrap();
    create_table::<Volume>("default").await.unwrap();
    let labels = Label::objects()
        .bulk_create(
            ["fantasy", "classic", "new"]
                .map(|code| Label { code: code.into() })
                .into(),
        )
        .await
        .unwrap();
    let writers = Writer::objects()
        .bulk_create(
            ["Ursula", "Terry", "Nobody"]
                .map(|name| Writer {
                    id: 0,
                    name: name.into(),
                    favourites: ManyToMany::default(),
                    state: ModelState::default(),
                })
                .into(),
        )
        .await
        .unwrap();
    let imprints = Imprint::objects()
        .bulk_create(
            ["ace", "gollancz"]
                .map(|code| Imprint {
                    code: code.into(),
                    state: ModelState::default(),
                })
                .into(),
        )
        .await
        .unwrap();
    let (ursula, terry) = (&writers[0], &writers[1]);
    let volumes = Volume::objects()
        .bulk_create(vec![
            volume("Earthsea", ursula, None, &imprints[0]),
            volume("Lathe", ursula, Some(terry), &imprints[0]),
            volume("Mort", terry, None, &imprints[1]),
        ])
        .await
        .unwrap();
    volumes[0]
        .labels
        .add(&[&labels[0], &labels[1]])
        .await
        .unwrap();
    volumes[2].labels.add(&[&labels[0]]).await.unwrap();
    ursula.favourites.add(&[&labels[1]]).await.unwrap();
    Library { writers, labels }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn titles(volumes: &[Volume]) -> Vec<String> {
    sorted(volumes.iter().map(|v| v.title.clone()).collect())
}

fn codes(labels: &[Label]) -> Vec<String> {
    sorted(labels.iter().map(|l| l.code.clone()).collect())
}

on_every_backend! {
    async fn many_to_many_rows_are_cached_on_their_row(vendor) {
        let lib = library().await;
        let db = canter_orm::database("default").unwrap();

        // The volumes, their links, their labels, their writers: four queries for every row.
        let before = db.query_count();
        let volumes = Volume::objects()
            .prefetch_related(Volume::labels)
            .prefetch_related(Volume::writer)
            .order_by([Volume::title.asc()])
            .await
            .unwrap();
        assert_eq!(db.query_count() - before, 4, "on {vendor:?}");

        let before = db.query_count();
        let earthsea = &volumes[0];
        assert_eq!(codes(&earthsea.labels.all().await.unwrap()), ["classic", "fantasy"], "{vendor:?}");
        assert_eq!(earthsea.labels.all().count().await.unwrap(), 2);
        assert!(earthsea.labels.all().exists().await.unwrap());
        assert!(volumes[1].labels.all().await.unwrap().is_empty(), "Lathe has none");
        assert!(!volumes[1].labels.all().exists().await.unwrap());
        assert_eq!(codes(&volumes[2].labels.all().await.unwrap()), ["fantasy"]);
        assert_eq!(earthsea.writer.cached().unwrap().name, "Ursula");
        // A clone of the row keeps what was prefetched.
        assert_eq!(earthsea.clone().labels.all().await.unwrap().len(), 2);
        assert_eq!(db.query_count() - before, 0, "no query after the prefetch on {vendor:?}");

        // A condition chained on the cached set is a new query, as in Django.
        let before = db.query_count();
        let classic = earthsea.labels.all().filter(Label::code.eq("classic")).await.unwrap();
        assert_eq!(codes(&classic), ["classic"]);
        assert_eq!(db.query_count() - before, 1);

        // Without the prefetch every read is a query.
        let plain = Volume::objects().filter(Volume::title.eq("Earthsea")).get().await.unwrap();
        let before = db.query_count();
        assert_eq!(plain.labels.all().await.unwrap().len(), 2);
        assert_eq!(db.query_count() - before, 1);

        // Changing the links through the manager drops the cache (Django's
        // _remove_prefetched_objects): the next read sees the database.
        let lathe = volumes[1].clone();
        lathe.labels.add(&[&lib.labels[2]]).await.unwrap();
        assert_eq!(codes(&lathe.labels.all().await.unwrap()), ["new"]);
        let earthsea = earthsea.clone();
        earthsea.labels.remove(&[&lib.labels[0]]).await.unwrap();
        assert_eq!(codes(&earthsea.labels.all().await.unwrap()), ["classic"], "{vendor:?}");

        // An integer owner with string targets; get() prefetches too.
        let before = db.query_count();
        let ursula = Writer::objects()
            .filter(Writer::name.eq("Ursula"))
            .prefetch_related(Writer::favourites)
            .get()
            .await
            .unwrap();
        assert_eq!(codes(&ursula.favourites.all().await.unwrap()), ["classic"]);
        assert_eq!(db.query_count() - before, 3, "the writer, the links, the labels on {vendor:?}");
    }
}

on_every_backend! {
    async fn reverse_sets_are_cached_in_the_state(vendor) {
        let lib = library().await;
        let db = canter_orm::database("default").unwrap();

        // The writers, then the volumes pointing at them through each of two keys.
        let before = db.query_count();
        let writers = Writer::objects()
            .order_by([Writer::id.asc()])
            .prefetch_related(Volume::writer.reverse())
            .prefetch_related(Volume::editor.reverse())
            .await
            .unwrap();
        assert_eq!(db.query_count() - before, 3, "on {vendor:?}");

        let before = db.query_count();
        let (ursula, terry, nobody) = (&writers[0], &writers[1], &writers[2]);
        assert_eq!(titles(&ursula.volumes().await.unwrap()), ["Earthsea", "Lathe"], "{vendor:?}");
        assert_eq!(titles(&terry.volumes().await.unwrap()), ["Mort"]);
        assert_eq!(titles(&terry.edited().await.unwrap()), ["Lathe"], "the nullable key's set apart");
        assert!(ursula.edited().await.unwrap().is_empty());
        assert!(nobody.volumes().await.unwrap().is_empty());
        assert_eq!(ursula.volumes().count().await.unwrap(), 2);
        assert!(!nobody.volumes().exists().await.unwrap());
        assert_eq!(ursula.clone().volumes().all().await.unwrap().len(), 2);
        assert_eq!(db.query_count() - before, 0, "no query after the prefetch on {vendor:?}");

        // Chained: a new query each.
        let before = db.query_count();
        assert_eq!(ursula.volumes().filter(Volume::title.eq("Lathe")).count().await.unwrap(), 1);
        assert_eq!(ursula.volumes().order_by([Volume::title.desc()]).first().await.unwrap().unwrap().title, "Lathe");
        assert_eq!(db.query_count() - before, 2);

        // Not prefetched: the accessor queries.
        let before = db.query_count();
        assert_eq!(lib.writers[0].volumes().await.unwrap().len(), 2);
        assert_eq!(db.query_count() - before, 1);

        // A string key, with the volumes' own foreign keys prefetched in the same go.
        let before = db.query_count();
        let imprints = Imprint::objects()
            .order_by([Imprint::code.asc()])
            .prefetch_related(Volume::imprint.reverse())
            .await
            .unwrap();
        let published = imprints[0].published().await.unwrap();
        assert_eq!(titles(&published), ["Earthsea", "Lathe"]);
        assert_eq!(titles(&imprints[1].published().await.unwrap()), ["Mort"]);
        assert_eq!(db.query_count() - before, 2, "on {vendor:?}");
        assert_eq!(published[0].imprint.id(), "ace");
    }
}
