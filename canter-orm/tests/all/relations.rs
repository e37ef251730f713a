//! Relations on every backend: foreign keys and one-to-one, lookups spanning relations, reverse
//! accessors, select_related (across several hops) / prefetch_related without N+1 queries, and
//! on_delete.

use crate::common;

use canter_orm::schema::create_table;
use canter_orm::{ForeignKey, Model, OneToOne, OrmError, Q};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Publisher {
    pub id: i64,
    #[field(max_length = 50)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Author {
    pub id: i64,
    #[field(max_length = 50)]
    pub name: String,
    #[field(on_delete = "set_null", related_name = "authors")]
    pub publisher: Option<ForeignKey<Publisher>>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Book {
    pub id: i64,
    #[field(max_length = 100)]
    pub title: String,
    #[field(on_delete = "cascade", related_name = "books")]
    pub author: ForeignKey<Author>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Review {
    pub id: i64,
    #[field(on_delete = "protect")]
    pub book: ForeignKey<Book>,
    pub stars: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Profile {
    pub id: i64,
    #[field(on_delete = "cascade")]
    pub author: OneToOne<Author>,
    pub bio: String,
}

async fn setup() -> (Publisher, Vec<Author>, Vec<Book>) {
    create_table::<Publisher>("default").await.unwrap();
    create_table::<Author>("default").await.unwrap();
    create_table::<Book>("default").await.unwrap();
    create_table::<Review>("default").await.unwrap();
    create_table::<Profile>("default").await.unwrap();
    let acme = Publisher::objects()
        .create(Publisher {
            id: 0,
            name: "Acme".into(),
        })
        .await
        .unwrap();
    let authors = Author::objects()
        .bulk_create(vec![
            Author {
                id: 0,
                name: "Tolkien".into(),
                publisher: Some(ForeignKey::to(&acme)),
            },
            Author {
                id: 0,
                name: "Le Guin".into(),
                publisher: None,
            },
        ])
        .await
        .unwrap();
    let books = Book::objects()
        .bulk_create(vec![
            Book {
                id: 0,
                title: "The Hobbit".into(),
                author: ForeignKey::to(&authors[0]),
            },
            Book {
                id: 0,
                title: "The Silmarillion".into(),
                author: ForeignKey::to(&authors[0]),
            },
            Book {
                id: 0,
                title: "Earthsea".into(),
                author: ForeignKey::to(&authors[1]),
            },
        ])
        .await
        .unwrap();
    (acme, authors, books)
}

fn titles(books: &[Book]) -> Vec<&str> {
    books.iter().map(|b| b.title.as_str()).collect()
}

on_every_backend! {
    async fn foreign_keys_and_spanning_lookups(vendor) {
        let (acme, authors, books) = setup().await;
        assert_eq!(books[0].author.id(), authors[0].id);
        assert_eq!(books[0].author.get().await.unwrap().name, "Tolkien", "one query to follow a key");

        let by_name = Book::objects().filter(Book::author.rel(Author::name).icontains("TOLK")).order_by([Book::id.asc()]).await.unwrap();
        assert_eq!(titles(&by_name), ["The Hobbit", "The Silmarillion"]);
        let two_hops = Book::objects().filter(Book::author.rel(Author::publisher).rel(Publisher::name).eq("Acme")).count().await.unwrap();
        assert_eq!(two_hops, 2);
        let no_publisher = Book::objects().filter(Book::author.rel(Author::publisher).isnull(true)).await.unwrap();
        assert_eq!(titles(&no_publisher), ["Earthsea"]);
        let ordered = Book::objects().order_by([Book::author.rel(Author::name).asc(), Book::title.desc()]).await.unwrap();
        assert_eq!(titles(&ordered), ["Earthsea", "The Silmarillion", "The Hobbit"]);
        assert_eq!(Book::objects().filter(Book::author.eq(&authors[1])).count().await.unwrap(), 1);
        assert_eq!(Book::objects().filter(Book::author.eq(authors[1].id)).count().await.unwrap(), 1);

        // From text, as a query string gives it (book__author__name__icontains).
        let qs = Book::objects().filter_params([("author__name__icontains", "guin")]).unwrap();
        assert_eq!(titles(&qs.await.unwrap()), ["Earthsea"]);
        let qs = Book::objects().filter_params([("author__publisher__name", "Acme")]).unwrap();
        assert_eq!(qs.count().await.unwrap(), 2);
        let qs = Book::objects().order_by_names(&["-author__name", "title"]).unwrap();
        assert_eq!(titles(&qs.await.unwrap()), ["The Hobbit", "The Silmarillion", "Earthsea"]);
        assert!(Book::objects().filter_params([("author__nope", "x")]).is_err());

        // Reverse accessors (related_name).
        assert_eq!(authors[0].books().count().await.unwrap(), 2);
        assert_eq!(acme.authors().await.unwrap().len(), 1);

        // Writes through a relation filter: UPDATE/DELETE ... WHERE pk IN (SELECT ... JOIN ...).
        let n = Book::objects().filter(Book::author.rel(Author::name).eq("Le Guin")).update([Book::title.set("A Wizard of Earthsea")]).await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(Book::objects().filter(Book::title.startswith("A Wizard")).count().await.unwrap(), 1);
        let _ = vendor;
    }
}

on_every_backend! {
    async fn select_related_and_prefetch_related_avoid_n_plus_one(vendor) {
        let (_, authors, _) = setup().await;
        let db = canter_orm::database("default").unwrap();
        let many: Vec<Book> = (0..1000).map(|i| Book { id: 0, title: format!("Book {i}"), author: ForeignKey::to(&authors[i % 2]) }).collect();
        Book::objects().bulk_create(many).await.unwrap();

        let before = db.query_count();
        let books = Book::objects().select_related(Book::author).order_by([Book::id.asc()]).await.unwrap();
        assert_eq!(db.query_count() - before, 1, "one JOINed query on {vendor:?}");
        assert_eq!(books.len(), 1003);
        assert!(books.iter().all(|b| b.author.cached().is_some()));
        assert_eq!(books[0].author.cached().unwrap().name, "Tolkien");
        assert_eq!(books[2].author.cached().unwrap().name, "Le Guin");

        // Without it, reading each author is one query per book: the N+1 the JOIN avoids.
        let before = db.query_count();
        let plain = Book::objects().order_by([Book::id.asc()]).limit(20).await.unwrap();
        for book in &plain {
            book.author.get().await.unwrap();
        }
        assert_eq!(db.query_count() - before, 21);

        let before = db.query_count();
        let prefetched = Book::objects().prefetch_related(Book::author).await.unwrap();
        assert_eq!(db.query_count() - before, 2, "two queries, however many rows");
        assert!(prefetched.iter().all(|b| b.author.cached().is_some()));

        let before = db.query_count();
        let with_books = Author::objects().order_by([Author::id.asc()]).with_related(Book::author).await.unwrap();
        assert_eq!(db.query_count() - before, 2);
        assert_eq!(with_books[0].1.len(), 502);
        assert_eq!(with_books[1].1.len(), 501);

        // A nullable foreign key with no row: the cache stays empty.
        let authors = Author::objects().select_related(Author::publisher).order_by([Author::id.asc()]).await.unwrap();
        assert_eq!(authors[0].publisher.as_ref().unwrap().cached().unwrap().name, "Acme");
        assert!(authors[1].publisher.is_none());
    }
}

on_every_backend! {
    async fn select_related_across_several_hops(vendor) {
        let (_, _, books) = setup().await;
        for (book, stars) in [(&books[0], 5), (&books[2], 4)] {
            Review::objects().create(Review { id: 0, book: ForeignKey::to(book), stars }).await.unwrap();
        }
        let db = canter_orm::database("default").unwrap();

        // Review -> Book -> Author -> Publisher (Django's "book__author__publisher"): one
        // query, every row along the way cached; Le Guin has no publisher (a LEFT JOIN's NULLs).
        let before = db.query_count();
        let reviews = Review::objects()
            .select_related(Review::book.rel(Book::author).rel(Author::publisher))
            .order_by([Review::stars.desc()])
            .await
            .unwrap();
        assert_eq!(db.query_count() - before, 1, "one JOINed query on {vendor:?}");
        let chain: Vec<(&str, &str, Option<&str>)> = reviews
            .iter()
            .map(|r| {
                let book = r.book.cached().expect("the book is cached");
                let author = book.author.cached().expect("the author is cached");
                let publisher = author.publisher.as_ref().map(|p| p.cached().expect("the publisher is cached").name.as_str());
                (book.title.as_str(), author.name.as_str(), publisher)
            })
            .collect();
        assert_eq!(chain, [("The Hobbit", "Tolkien", Some("Acme")), ("Earthsea", "Le Guin", None)]);
        assert_eq!(db.query_count() - before, 1, "reading the cached rows costs no query");

        // Two paths sharing a hop, given in any order, alongside a filter across the same
        // relations: the shared JOIN is made once and each model's columns land in place.
        let books = Book::objects()
            .select_related(Book::author.rel(Author::publisher))
            .select_related(Book::author)
            .filter(Book::author.rel(Author::publisher).rel(Publisher::name).eq("Acme"))
            .order_by([Book::id.asc()])
            .await
            .unwrap();
        let names: Vec<(&str, &str)> = books
            .iter()
            .map(|b| {
                let author = b.author.cached().unwrap();
                (author.name.as_str(), author.publisher.as_ref().unwrap().cached().unwrap().name.as_str())
            })
            .collect();
        assert_eq!(names, [("Tolkien", "Acme"), ("Tolkien", "Acme")]);

        // One hop still caches only that row (nothing further along is loaded).
        let one = Review::objects().select_related(Review::book).order_by([Review::stars.desc()]).await.unwrap();
        assert!(one[0].book.cached().unwrap().author.cached().is_none());
    }
}

on_every_backend! {
    async fn on_delete_behaviours(vendor) {
        let (acme, authors, books) = setup().await;
        Review::objects().create(Review { id: 0, book: ForeignKey::to(&books[2]), stars: 5 }).await.unwrap();
        Profile::objects().create(Profile { id: 0, author: ForeignKey::to(&authors[0]), bio: "prof".into() }).await.unwrap();
        let dup = Profile::objects().create(Profile { id: 0, author: ForeignKey::to(&authors[0]), bio: "again".into() }).await;
        assert!(matches!(dup, Err(OrmError::Integrity { .. })), "one-to-one is unique on {vendor:?}");

        // SET_NULL: deleting the publisher empties the authors' key.
        Publisher::objects().filter(Publisher::id.eq(acme.id)).delete().await.unwrap();
        let tolkien = Author::objects().filter(Author::id.eq(authors[0].id)).get().await.unwrap();
        assert!(tolkien.publisher.is_none());

        // CASCADE: deleting Tolkien deletes his books and his profile.
        Author::objects().filter(Author::id.eq(authors[0].id)).delete().await.unwrap();
        assert_eq!(titles(&Book::objects().await.unwrap()), ["Earthsea"]);
        assert_eq!(Profile::objects().count().await.unwrap(), 0);

        // PROTECT: a reviewed book cannot be deleted, nor its author (the cascade would reach it).
        let err = Book::objects().filter(Book::id.eq(books[2].id)).delete().await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
        let err = Author::objects().filter(Author::id.eq(authors[1].id)).delete().await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
        assert_eq!(Book::objects().count().await.unwrap(), 1, "nothing was deleted");

        // A key to a row that does not exist is refused.
        let dangling = Book::objects().create(Book { id: 0, title: "ghost".into(), author: ForeignKey::new(999_999) }).await;
        assert!(matches!(dangling, Err(OrmError::Integrity { .. })));
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Tag {
    pub id: i64,
    #[field(unique, max_length = 30)]
    pub name: String,
}

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "rel")]
pub struct Post {
    pub id: i64,
    #[field(max_length = 100)]
    pub title: String,
    pub tags: canter_orm::ManyToMany<Tag>,
}

on_every_backend! {
    async fn many_to_many_managers(vendor) {
        create_table::<Tag>("default").await.unwrap();
        create_table::<Post>("default").await.unwrap();
        let rust = Tag::objects().create(Tag { id: 0, name: "rust".into() }).await.unwrap();
        let django = Tag::objects().create(Tag { id: 0, name: "django".into() }).await.unwrap();
        let unsaved = Post { id: 0, title: "draft".into(), tags: Default::default() };
        assert!(unsaved.tags.add(&[&rust]).await.is_err(), "save first");
        assert_eq!(unsaved.tags.all().count().await.unwrap(), 0);

        let post = Post::objects().create(Post { id: 0, title: "Async ORMs".into(), tags: Default::default() }).await.unwrap();
        post.tags.add(&[&rust, &django]).await.unwrap();
        post.tags.add(&[&rust]).await.unwrap();
        let names = |tags: Vec<Tag>| tags.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(names(post.tags.all().order_by([Tag::name.asc()]).await.unwrap()), ["django", "rust"], "each pair once on {vendor:?}");
        assert_eq!(post.tags.remove(&[&django]).await.unwrap(), 1);
        assert_eq!(names(post.tags.all().await.unwrap()), ["rust"]);
        let async_tag = post.tags.create(Tag { id: 0, name: "async".into() }).await.unwrap();
        assert!(async_tag.id > 0);
        assert_eq!(post.tags.all().count().await.unwrap(), 2);
        post.tags.set(&[&django]).await.unwrap();
        assert_eq!(names(post.tags.all().await.unwrap()), ["django"]);

        // A loaded post's manager works too; filters chain on it.
        let loaded = Post::objects().get().await.unwrap();
        assert_eq!(loaded.tags.all().filter(Tag::name.startswith("dj")).count().await.unwrap(), 1);
        assert_eq!(loaded.tags.clear().await.unwrap(), 1);
        assert_eq!(loaded.tags.all().count().await.unwrap(), 0);

        // Deleting either side deletes the links, not the other side.
        post.tags.add(&[&rust]).await.unwrap();
        Tag::objects().filter(Tag::id.eq(rust.id)).delete().await.unwrap();
        assert_eq!(post.tags.all().count().await.unwrap(), 0);
        assert_eq!(Post::objects().count().await.unwrap(), 1);
    }
}

on_every_backend! {
    async fn values_and_counts_across_relations(vendor) {
        let (_, authors, _) = setup().await;
        let rows = Book::objects().order_by([Book::id.asc()]).values(&["title", "author__name", "author__publisher__name"]).await.unwrap();
        assert_eq!(rows[0]["author__name"], "Tolkien");
        assert_eq!(rows[0]["author__publisher__name"], "Acme");
        assert_eq!(rows[2]["author__publisher__name"], serde_json::Value::Null);
        assert!(Book::objects().values(&["author__nope"]).await.is_err());

        let counts = Author::objects().order_by([Author::id.asc()]).annotate_count(Book::author).await.unwrap();
        assert_eq!(counts.iter().map(|(a, n)| (a.name.as_str(), *n)).collect::<Vec<_>>(), [("Tolkien", 2), ("Le Guin", 1)]);
        assert_eq!(counts[0].0.id, authors[0].id, "on {vendor:?}");
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Person {
    pub id: i64,
    #[field(max_length = 30)]
    pub name: String,
}

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "rel", check(name = "club_capacity_positive", sql = "capacity > 0"))]
pub struct Club {
    pub id: i64,
    #[field(max_length = 30)]
    pub name: String,
    pub capacity: i64,
    #[field(through = "Membership")]
    pub members: canter_orm::ManyToMany<Person>,
}

/// Django's `through` model: the join table with data of its own.
#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "rel")]
pub struct Membership {
    pub id: i64,
    pub club: ForeignKey<Club>,
    pub person: ForeignKey<Person>,
    #[field(default = "member", max_length = 20)]
    pub role: String,
}

on_every_backend! {
    async fn through_models_checks_and_many_to_many_prefetch(vendor) {
        create_table::<Person>("default").await.unwrap();
        create_table::<Club>("default").await.unwrap();
        create_table::<Membership>("default").await.unwrap();
        let ada = Person::objects().create(Person { id: 0, name: "ada".into() }).await.unwrap();
        let bob = Person::objects().create(Person { id: 0, name: "bob".into() }).await.unwrap();
        let chess = Club::objects().create(Club { id: 0, name: "chess".into(), capacity: 10, members: Default::default() }).await.unwrap();
        let go = Club::objects().create(Club { id: 0, name: "go".into(), capacity: 5, members: Default::default() }).await.unwrap();

        // The manager writes through the through model's table (its other columns take defaults).
        chess.members.add(&[&ada, &bob]).await.unwrap();
        go.members.add(&[&bob]).await.unwrap();
        assert_eq!(Membership::objects().filter(Membership::role.eq("member")).count().await.unwrap(), 3);
        Membership::objects().create(Membership { id: 0, club: ForeignKey::to(&go), person: ForeignKey::to(&ada), role: "captain".into() }).await.unwrap();
        let names = |people: Vec<Person>| { let mut n: Vec<String> = people.into_iter().map(|p| p.name).collect(); n.sort(); n };
        assert_eq!(names(go.members.all().await.unwrap()), ["ada", "bob"]);
        assert_eq!(chess.members.remove(&[&ada]).await.unwrap(), 1);

        let db = canter_orm::database("default").unwrap();
        let before = db.query_count();
        let clubs = Club::objects().order_by([Club::id.asc()]).with_many_to_many::<Person>("members").await.unwrap();
        assert_eq!(db.query_count() - before, 3, "three queries, however many clubs");
        assert_eq!(names(clubs[0].1.clone()), ["bob"]);
        assert_eq!(names(clubs[1].1.clone()), ["ada", "bob"]);
        assert!(Club::objects().with_many_to_many::<Person>("nope").await.is_err());

        // The check constraint is the database's.
        let bad = Club::objects().create(Club { id: 0, name: "empty".into(), capacity: 0, members: Default::default() }).await;
        assert!(matches!(bad, Err(OrmError::Integrity { .. })), "{bad:?} on {vendor:?}");
    }
}

on_every_backend! {
    async fn conditions_on_many_to_many_rows(vendor) {
        create_table::<Tag>("default").await.unwrap();
        create_table::<Post>("default").await.unwrap();
        let rust = Tag::objects().create(Tag { id: 0, name: "rust".into() }).await.unwrap();
        let web = Tag::objects().create(Tag { id: 0, name: "web".into() }).await.unwrap();
        let a = Post::objects().create(Post { id: 0, title: "a".into(), tags: Default::default() }).await.unwrap();
        let b = Post::objects().create(Post { id: 0, title: "b".into(), tags: Default::default() }).await.unwrap();
        Post::objects().create(Post { id: 0, title: "c".into(), tags: Default::default() }).await.unwrap();
        a.tags.add(&[&rust, &web]).await.unwrap();
        b.tags.add(&[&web]).await.unwrap();
        let titles = |posts: Vec<Post>| posts.into_iter().map(|p| p.title).collect::<Vec<_>>();
        // tags__name="rust"
        let q = Post::objects().filter(Post::tags.any(Tag::name.eq("rust")));
        assert_eq!(titles(q.await.unwrap()), ["a"]);
        // Each post once, even when several of its tags match.
        let q = Post::objects().filter(Post::tags.any(Tag::name.in_(["rust", "web"]))).order_by([Post::id.asc()]);
        assert_eq!(titles(q.await.unwrap()), ["a", "b"]);
        let q = Post::objects().exclude(Post::tags.any(Q::all())).order_by([Post::id.asc()]);
        assert_eq!(titles(q.await.unwrap()), ["c"], "posts with no tag at all on {vendor:?}");
        let q = Post::objects().filter(Post::tags.any(Tag::name.eq("web")) & Post::title.eq("b"));
        assert_eq!(q.count().await.unwrap(), 1);
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Shelf {
    pub id: i64,
    #[field(max_length = 20)]
    pub label: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Restricted {
    pub id: i64,
    #[field(on_delete = "restrict", related_name = "restricted")]
    pub shelf: ForeignKey<Shelf>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Defaulted {
    pub id: i64,
    // The default points at the first shelf (the column's DEFAULT 1).
    #[field(on_delete = "set_default", default = ForeignKey::new(1), related_name = "defaulted")]
    pub shelf: ForeignKey<Shelf>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "rel")]
pub struct Untouched {
    pub id: i64,
    #[field(on_delete = "do_nothing", related_name = "untouched")]
    pub shelf: ForeignKey<Shelf>,
}

on_every_backend! {
    async fn restrict_set_default_and_do_nothing(vendor) {
        create_table::<Shelf>("default").await.unwrap();
        create_table::<Restricted>("default").await.unwrap();
        // MariaDB's InnoDB has no ON DELETE SET DEFAULT: the table is refused, naming the field.
        match create_table::<Defaulted>("default").await {
            Err(OrmError::Config { message, .. }) if common::is_mysql(vendor) => {
                assert!(message.contains("rel.Defaulted.shelf") && message.contains("set_default"), "{message}");
            }
            other => other.unwrap(),
        }
        create_table::<Untouched>("default").await.unwrap();
        let shelves = Shelf::objects()
            .bulk_create(["fallback", "a", "b", "c"].map(|label| Shelf { id: 0, label: label.into() }).to_vec())
            .await
            .unwrap();
        assert_eq!(shelves[0].id, 1, "the default key points at the first shelf");
        let shelf_exists = |id: i64| async move { Shelf::objects().filter(Shelf::id.eq(id)).count().await.unwrap() == 1 };

        // RESTRICT: refused by the database (as PROTECT is), nothing deleted.
        Restricted::objects().create(Restricted { id: 0, shelf: ForeignKey::to(&shelves[1]) }).await.unwrap();
        let err = Shelf::objects().filter(Shelf::id.eq(shelves[1].id)).delete().await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "RESTRICT on {vendor:?}: {err}");
        assert!(shelf_exists(shelves[1].id).await);

        // SET_DEFAULT: the pointing rows get the column's default (not on MariaDB: refused above).
        if !common::is_mysql(vendor) {
            let defaulted = Defaulted::objects().create(Defaulted { id: 0, shelf: ForeignKey::to(&shelves[2]) }).await.unwrap();
            Shelf::objects().filter(Shelf::id.eq(shelves[2].id)).delete().await.unwrap();
            let moved = Defaulted::objects().filter(Defaulted::id.eq(defaulted.id)).get().await.unwrap();
            assert_eq!(moved.shelf.id(), shelves[0].id, "SET_DEFAULT on {vendor:?}");
            // A default pointing at nothing is refused like any dangling key.
            let err = Shelf::objects().filter(Shelf::id.eq(shelves[0].id)).delete().await.unwrap_err();
            assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
        }

        // DO_NOTHING: the ORM does nothing and the database's NO ACTION constraint is not
        // deferred: the delete is refused at once, even inside a transaction that would repoint
        // the rows before committing.
        let untouched = Untouched::objects().create(Untouched { id: 0, shelf: ForeignKey::to(&shelves[3]) }).await.unwrap();
        let err = Shelf::objects().filter(Shelf::id.eq(shelves[3].id)).delete().await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "DO_NOTHING on {vendor:?}: {err}");
        let in_transaction: Result<(), OrmError> = canter_orm::transaction::atomic(async {
            Shelf::objects().filter(Shelf::id.eq(shelves[3].id)).delete().await?;
            Untouched::objects().filter(Untouched::id.eq(untouched.id)).update([Untouched::shelf.set(ForeignKey::to(&shelves[0]))]).await?;
            Ok(())
        })
        .await;
        assert!(matches!(in_transaction, Err(OrmError::Integrity { .. })), "not deferred to the commit on {vendor:?}");
        assert!(shelf_exists(shelves[3].id).await);
        // Repointed first, the delete goes through.
        Untouched::objects().filter(Untouched::id.eq(untouched.id)).update([Untouched::shelf.set(ForeignKey::to(&shelves[0]))]).await.unwrap();
        Shelf::objects().filter(Shelf::id.eq(shelves[3].id)).delete().await.unwrap();
        assert!(!shelf_exists(shelves[3].id).await);
    }
}
