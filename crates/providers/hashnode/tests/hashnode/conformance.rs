//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description: both connections walked over
//! the fake (posts of a publication, the user's publications).

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_hashnode::{
    API, Hashnode, POSTS_PAGING, PUBLICATIONS_PAGING,
    operations::{MY_PUBLICATIONS, PUBLICATION_POSTS},
    sandbox::{HashnodeFake, SANDBOX_PUBLICATION, SANDBOX_TOKEN},
};
use serde_json::json;

use crate::support::connection;

fn list(
    operation: &junction_hashnode::operations::Operation,
    variables: serde_json::Value,
) -> FakeList {
    let body =
        json!({"operationName": operation.name, "query": operation.query, "variables": variables});
    FakeList::post("", body).id(Some("/node/id"))
}

#[tokio::test]
async fn hashnode_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(HashnodeFake::default()), TokenTable::default()).await;
    let adapter: Arc<dyn Adapter> = Arc::new(Hashnode);
    let (good, rejected) = (connection(SANDBOX_TOKEN), connection("revoked-token"));
    let description = Description::new(&API)
        .paging_on(
            &POSTS_PAGING,
            list(
                &PUBLICATION_POSTS,
                json!({"publicationId": SANDBOX_PUBLICATION}),
            ),
        )
        .paging_on(
            &PUBLICATIONS_PAGING,
            list(&MY_PUBLICATIONS, json!({})).size(1),
        );
    let report = Suite::new(adapter, good, rejected, false)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!((report.fake_lists, report.auth_modes_accepted), (2, 1));
}
