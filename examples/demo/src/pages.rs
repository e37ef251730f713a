//! The demo's HTML pages: templates (`templates/`) with one base layout and a stylesheet from
//! `static/`, a form that adds notes, and a file upload.

use canter::pages::forms::{BoundForm, Form, SaveError};
use canter::pages::{default_storage, minijinja, render, UploadedFile};
use canter::prelude::*;
use serde_json::json;

use crate::models::Note;

/// The index page, linking every feature (URLs built with `reverse`).
pub async fn index(req: Request) -> Result<Html<String>> {
    let article = req.reverse(
        "article-detail",
        &[("year", "2026".into()), ("slug", "async-django".into())],
    )?;
    let links = [
        (
            "GET",
            req.reverse("async", &[])?,
            "The article's async view: a 2 s sleep that blocks nobody",
        ),
        ("GET", req.reverse("hello", &[])?, "Hello JSON"),
        (
            "GET",
            article,
            "Typed path converters: <int:year>/<slug:slug>",
        ),
        (
            "GET",
            req.reverse("blocking", &[])?,
            "Blocking work through sync_to_async",
        ),
        ("GET", req.reverse("stream", &[])?, "A streaming response"),
        (
            "GET",
            req.reverse("notes-page", &[])?,
            "A form that adds notes to the database",
        ),
        (
            "GET",
            req.reverse("upload-page", &[])?,
            "A file upload, kept under a safe name",
        ),
        (
            "GET/POST",
            req.reverse("api:notes", &[])?,
            "A class-based view",
        ),
        (
            "GET",
            req.reverse("mymodel-first-active", &[])?,
            "The article's async ORM query",
        ),
        (
            "GET",
            req.reverse("mymodel-list", &[])?,
            "A queryset filtered by the query string",
        ),
        (
            "WS",
            req.reverse("chat-room", &[("room", "lobby".into())])?,
            "A chat room: a WebSocket consumer and a channel-layer group",
        ),
    ];
    let links: Vec<_> = links
        .iter()
        .map(|(method, path, text)| json!({"method": method, "href": path, "path": path, "text": text}))
        .collect();
    render(&req, "index.html", minijinja::context! { links })
}

/// A chat room page: the template holds the room's name, `static/js/chat.js` the socket. The
/// ids (`status`, `log`, `text`, `send`) are what the browser test drives.
pub async fn chat_room(req: Request) -> Result<Html<String>> {
    let room: String = req.param("room")?;
    render(&req, "chat.html", minijinja::context! { room })
}

/// The form that adds a note: a model form over [`Note`] (Django's `ModelForm` with
/// `fields = ["title", "text"]`): a title (required; the model holds it to 100 characters) and
/// the note's text.
#[derive(Form)]
#[form(model = Note)]
pub struct NoteForm {
    #[form(max_length = 100)]
    pub title: String,
    #[form(widget = "textarea", max_length = 1000, label = "Note")]
    pub text: String,
}

/// `/notes/`: the notes, newest first, and the form; a valid POST adds one and redirects (303),
/// an invalid one shows the form again with its errors (400).
pub async fn notes_page(mut req: Request) -> Result<Response> {
    let form = if req.method() == Method::POST {
        let form = BoundForm::<NoteForm>::from_request(&mut req).await?;
        match form.create().await {
            Ok(_) => return Ok(Redirect::to(&req.reverse("notes-page", &[])?).into_response()),
            Err(SaveError::Invalid(form)) => form,
            Err(SaveError::Database(e)) => return Err(e.into_http()),
        }
    } else {
        BoundForm::unbound()
    };
    let status = if form.is_bound() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let notes = Note::objects()
        .order_by([Note::id.desc()])
        .limit(50)
        .all()
        .await
        .map_err(|e| e.into_http())?;
    let count = Note::objects().count().await.map_err(|e| e.into_http())?;
    let page = render(
        &req,
        "notes.html",
        minijinja::context! { notes, count, form },
    )?;
    Ok((status, page).into_response())
}

/// The upload form: one file.
#[derive(Form)]
pub struct UploadForm {
    #[form(help_text = "At most 5 MB.")]
    pub file: UploadedFile,
}

/// `/upload/`: the form; a POST stores the file under the media root and answers with its
/// stored name and size (JSON for `Accept: application/json`). A file over `[uploads]
/// max_file_size` (5 MB) is a 413 and nothing is kept.
pub async fn upload_page(mut req: Request) -> Result<Response> {
    let wants_json = req
        .headers()
        .get(canter::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if req.method() != Method::POST {
        let form = BoundForm::<UploadForm>::unbound();
        return Ok(render(&req, "upload.html", minijinja::context! { form })?.into_response());
    }
    let form = match BoundForm::<UploadForm>::from_request(&mut req)
        .await?
        .into_valid()
    {
        Ok(UploadForm { file }) => {
            let storage = default_storage()?;
            let name = storage
                .save(&format!("uploads/{}", file.name()), &file)
                .await
                .map_err(Error::internal)?;
            let stored = json!({"name": name, "size": file.size(), "url": storage.url(&name)});
            if wants_json {
                return Ok(JsonResponse::new(stored).into_response());
            }
            let form = BoundForm::<UploadForm>::unbound();
            return Ok(
                render(&req, "upload.html", minijinja::context! { form, stored })?.into_response(),
            );
        }
        Err(form) => form,
    };
    if wants_json {
        return Ok(
            JsonResponse::new(json!({"errors": form.errors().to_json()}))
                .status(400)
                .into_response(),
        );
    }
    let page = render(&req, "upload.html", minijinja::context! { form })?;
    Ok((StatusCode::BAD_REQUEST, page).into_response())
}
