DROP TABLE cross_post_targets;
DROP TABLE cross_posts;
