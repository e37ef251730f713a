//! Django's auth and session tables, as canter models: the same table and column names
//! (`auth_user`, `auth_group`, `auth_permission`, their join tables, `django_content_type`,
//! `django_session`), so one database serves a Django site and a canter service.
//!
//! Register them with the ORM ([`register`]) for `makemigrations` / `migrate`.

use canter_orm::chrono::{DateTime, Utc};
use canter_orm::{ForeignKey, ManyToMany, Model, Orm};
use serde::Serialize;

/// `django.contrib.contenttypes.models.ContentType`: what a permission is about.
#[derive(Model, Serialize, Debug, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "contenttypes", table = "django_content_type")]
pub struct ContentType {
    /// The row's key.
    pub id: i64,
    /// The model's app (`auth`).
    #[field(max_length = 100)]
    pub app_label: String,
    /// The model's name, lowercased (`user`).
    #[field(max_length = 100)]
    pub model: String,
}

/// `django.contrib.auth.models.Permission`: `"<app_label>.<codename>"` in `has_perm`.
#[derive(Model, Serialize, Debug, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "auth", table = "auth_permission")]
pub struct Permission {
    /// The row's key.
    pub id: i64,
    /// A human-readable name (`Can add user`).
    #[field(max_length = 255)]
    pub name: String,
    /// The model the permission is about.
    pub content_type: ForeignKey<ContentType>,
    /// The name code checks for (`add_user`, in `"auth.add_user"`).
    #[field(max_length = 100)]
    pub codename: String,
}

/// `django.contrib.auth.models.Group`.
#[derive(Model, Serialize, Debug, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "auth", table = "auth_group")]
pub struct Group {
    /// The row's key.
    pub id: i64,
    /// The group's unique name.
    #[field(max_length = 150, unique)]
    pub name: String,
    /// What every member of the group may do.
    #[serde(skip)]
    pub permissions: ManyToMany<Permission>,
}

/// `django.contrib.auth.models.User`, column for column. `password` holds the encoded hash
/// ([`crate::hashers`]); never the password.
#[derive(Model, Serialize, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "auth", table = "auth_user")]
pub struct User {
    /// The row's key.
    pub id: i64,
    /// The encoded hash (`pbkdf2_sha256$…`), or an unusable one (`!…`).
    #[field(max_length = 128)]
    #[serde(skip)]
    pub password: String,
    /// When the user last logged in (`None`: never).
    pub last_login: Option<DateTime<Utc>>,
    /// Has every permission without being given them.
    pub is_superuser: bool,
    /// The unique name the user logs in with.
    #[field(max_length = 150, unique)]
    pub username: String,
    /// Given name (may be empty).
    #[field(max_length = 150, blank)]
    pub first_name: String,
    /// Family name (may be empty).
    #[field(max_length = 150, blank)]
    pub last_name: String,
    /// Email address (may be empty).
    #[field(max_length = 254, blank)]
    pub email: String,
    /// May log in to the admin site.
    pub is_staff: bool,
    /// May log in at all (Django deactivates instead of deleting).
    pub is_active: bool,
    /// When the account was made.
    pub date_joined: DateTime<Utc>,
    /// The groups the user is in (their permissions are the user's too).
    #[serde(skip)]
    pub groups: ManyToMany<Group>,
    /// Permissions given to the user directly.
    #[serde(skip)]
    pub user_permissions: ManyToMany<Permission>,
}

/// Without the password hash: a `User` printed in a log or an error page shows no secret.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .finish_non_exhaustive()
    }
}

/// `django.contrib.sessions.models.Session`: the database session backend's rows.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "sessions", table = "django_session")]
pub struct Session {
    /// The session's key, the `sessionid` cookie's value.
    #[field(primary_key, max_length = 40)]
    pub session_key: String,
    /// The session's data, signed and encoded as Django does.
    pub session_data: String,
    /// When the session expires (`clearsessions` deletes it after).
    #[field(db_index)]
    pub expire_date: DateTime<Utc>,
}

/// Adds the accounts models to the ORM (for `makemigrations`; `migrate` creates the tables).
pub fn register(orm: Orm) -> Orm {
    orm.model::<ContentType>()
        .model::<Permission>()
        .model::<Group>()
        .model::<User>()
        .model::<Session>()
}

/// Creates the accounts tables without migrations (tests, scripts), if missing.
pub async fn create_tables(alias: &str) -> Result<(), canter_orm::OrmError> {
    use canter_orm::schema::create_table;
    create_table::<ContentType>(alias).await?;
    create_table::<Permission>(alias).await?;
    create_table::<Group>(alias).await?;
    create_table::<User>(alias).await?;
    create_table::<Session>(alias).await
}
