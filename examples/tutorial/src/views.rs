//! The views (Django's polls/views.py).

use canter::orm::transaction::atomic;
use canter::pages::forms::{BoundForm, Form};
use canter::pages::{minijinja::context, render};
use canter::prelude::*;

use crate::models::{Choice, ChoiceQuestionReverse, Question};
use crate::tasks::publish_results;

/// The latest five questions.
pub async fn index(req: Request) -> Result<Html<String>> {
    let latest = Question::objects()
        .order_by([Question::pub_date.desc()])
        .limit(5)
        .await
        .map_err(|e| e.into_http())?;
    render(&req, "polls/index.html", context! { latest })
}

/// What the vote form sends: the id of the chosen choice.
#[derive(Form)]
pub struct VoteForm {
    pub choice: i64,
}

/// A question and its choices, with the vote form.
pub async fn detail(req: Request) -> Result<Html<String>> {
    let (question, choices) = question_and_choices(req.param("question_id")?).await?;
    let form = BoundForm::<VoteForm>::unbound();
    render(
        &req,
        "polls/detail.html",
        context! { question, choices, form },
    )
}

/// The question (or 404) and its choices, in the order they were added.
async fn question_and_choices(id: i64) -> Result<(Question, Vec<Choice>)> {
    let question = Question::objects()
        .filter(Question::id.eq(id))
        .get_or_404()
        .await?;
    let choices = question.choices().order_by([Choice::id.asc()]).await;
    Ok((question, choices.map_err(|e| e.into_http())?))
}

/// Counts a vote, then redirects to the results (so a reload does not vote twice).
pub async fn vote(mut req: Request) -> Result<Response> {
    let (question, choices) = question_and_choices(req.param("question_id")?).await?;
    let mut form = match BoundForm::<VoteForm>::from_request(&mut req)
        .await?
        .into_valid()
    {
        Ok(VoteForm { choice }) => {
            let voted = atomic(async {
                let chosen = Choice::objects()
                    .filter(Choice::id.eq(choice) & Choice::question.eq(question.id));
                let counted = chosen
                    .update([Choice::votes.set(Choice::votes.f() + 1)])
                    .await?;
                if counted == 1 {
                    // Sent only if this transaction commits (Celery's delay_on_commit).
                    publish_results::delay_on_commit(question.id)?;
                }
                Ok::<_, Error>(counted == 1)
            })
            .await?;
            if voted {
                let args = [("question_id", question.id.to_string())];
                return Ok(Redirect::to(&req.reverse("results", &args)?).into_response());
            }
            BoundForm::unbound()
        }
        Err(form) => form,
    };
    form.add_error(Some("choice"), "You didn't select a choice.");
    let page = render(
        &req,
        "polls/detail.html",
        context! { question, choices, form },
    )?;
    Ok((StatusCode::BAD_REQUEST, page).into_response())
}

/// The votes so far; the page then follows them live over a WebSocket.
pub async fn results(req: Request) -> Result<Html<String>> {
    let (question, choices) = question_and_choices(req.param("question_id")?).await?;
    render(&req, "polls/results.html", context! { question, choices })
}
