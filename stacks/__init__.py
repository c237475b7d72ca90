"""The CDK app: stacks (deploy units), constructs, domain specs and the definitions rendered from them."""
