package finlake.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's raw local file system, setting permissions with java.nio instead of a {@code chmod} process.
 *
 * <p>Without Hadoop's native library (PySpark does not ship it), {@link RawLocalFileSystem} forks
 * {@code chmod} for every file and folder it creates: about 3 ms each, three times per partition a
 * Spark job writes (its folder, its file, the checksum file). This class sets the same permission bits
 * with one system call. Used by the local runner only ({@code finlake/local/glue.py}); Glue writes to S3.
 * The sticky bit, which java.nio cannot set, is left out.
 */
public class NioLocalFileSystem extends RawLocalFileSystem {
  @Override
  public void setPermission(Path path, FsPermission permission) throws IOException {
    String bits =
        permission.getUserAction().SYMBOL
            + permission.getGroupAction().SYMBOL
            + permission.getOtherAction().SYMBOL;
    Files.setPosixFilePermissions(pathToFile(path).toPath(), PosixFilePermissions.fromString(bits));
  }
}
