//! Lambda entry point of `gdpr-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::NO_MAIL).await?;
    // It runs retention on demand (`POST /admin/retention/run`): a policy table the job could
    // not honour stops it at startup too, naming the row, as it stops cleanup-cron.
    rampart_gdpr::retention::policies::effective(&state.settings, &gdpr_api::registry())
        .map_err(|why| format!("RETENTION_POLICIES {why}"))?;
    rampart_http::lambda::run(gdpr_api::router(state)).await
}
