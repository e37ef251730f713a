//! Wiring the ORM into an [`App`](canter_core::App): databases from settings at start-up.

use canter_core::App;

use crate::db::Databases;

/// `App::new().install(canter_orm::plugin)`: connects (lazily) to the databases of the
/// `[databases]` settings and `DATABASE_URL` before any command runs.
pub fn plugin(app: App) -> App {
    app.on_startup(|settings, _command| async move {
        Databases::from_settings(&settings)?.install();
        Ok(())
    })
}
